/*
 * lib/bootcfg.h — splits the text of sluice.cfg into the boot arguments and
 * the guest-image sections (shared/CONSOLE.md "Transport"):
 *
 *     allow_unsafe_interrupts          <- boot arguments: everything before
 *     [image linux]                       the first `[image ...` line
 *     kernel=/EFI/linux/vmlinuz
 *     initrd=\EFI\linux\initrd.img
 *     cmdline=console=ttyS0 quiet
 *
 * A pure parser (no allocation, no I/O): boot/ uses it before
 * ExitBootServices, the host tests and the fuzzer use it directly.
 *
 * Rules, per line (a line ends at LF, CR or CRLF; line numbers count from 1):
 * - The sections start at the first line that begins, after blanks or tabs,
 *   with `[image` followed by a blank or `]`.  Before it nothing is
 *   interpreted here: that prefix is the boot-argument text, as before.
 * - From there on, a line beginning with `[` is a section header; it must
 *   be `[image <name>]` (blanks allowed around the name, nothing but blanks
 *   after `]`), name 1..BOOTCFG_NAME_MAX of A-Z a-z 0-9 . _ -.
 * - Inside a section: blank lines and lines whose first non-blank is `#`
 *   are ignored; every other line is `key=value` with key kernel, initrd
 *   or cmdline (each at most once).  The value is the rest of the line,
 *   blanks and tabs around it dropped (a `#` inside it is part of it).
 *   Paths: 1..BOOTCFG_PATH_MAX printable ASCII characters, `/` or `\`
 *   separators, relative to the volume's root; stored normalised (leading
 *   `\`, every separator `\`, repeated separators collapsed).  Command
 *   line: 0..BOOTCFG_CMDLINE_MAX printable ASCII characters (tabs become
 *   blanks).  kernel= is required.
 * - A section with an error is dropped whole (one error reported, at the
 *   first offending line); the others are kept.  A well-formed section
 *   whose name an earlier kept image has, or past BOOTCFG_MAX_IMAGES kept
 *   images, is dropped too.
 */
#ifndef SLUICE_LIB_BOOTCFG_H
#define SLUICE_LIB_BOOTCFG_H

#include <stddef.h>
#include <stdint.h>

#define BOOTCFG_MAX_IMAGES 8
#define BOOTCFG_NAME_MAX 31	 /* characters, without the NUL */
#define BOOTCFG_PATH_MAX 255	 /* characters of the normalised path */
#define BOOTCFG_CMDLINE_MAX 1023 /* characters, without the NUL */
#define BOOTCFG_MAX_ERRORS 16	 /* errors kept; more are only counted */

enum bootcfg_error {
	BOOTCFG_EHEADER = 1, /* a `[` line that is not `[image <name>]` */
	BOOTCFG_ENAME,	     /* name empty, too long or a bad character */
	BOOTCFG_ESYNTAX,     /* a line in a section without `=` */
	BOOTCFG_EKEY,	     /* a key other than kernel, initrd, cmdline */
	BOOTCFG_EDUPKEY,     /* the same key twice in a section */
	BOOTCFG_EEMPTY,	     /* kernel= or initrd= with no path */
	BOOTCFG_ELONG,	     /* a path or command line too long */
	BOOTCFG_ECHAR,	     /* a character outside printable ASCII */
	BOOTCFG_ENOKERNEL,   /* a section without kernel= */
	BOOTCFG_EDUP,	     /* an image of that name was already kept */
	BOOTCFG_EMANY,	     /* more than BOOTCFG_MAX_IMAGES good sections */
};

struct bootcfg_image {
	char name[BOOTCFG_NAME_MAX + 1];
	char kernel[BOOTCFG_PATH_MAX + 1]; /* normalised: "\EFI\linux\vmlinuz" */
	char initrd[BOOTCFG_PATH_MAX + 1]; /* "" when there is none */
	char cmdline[BOOTCFG_CMDLINE_MAX + 1];
	unsigned line; /* of its header */
};

struct bootcfg_diag {
	unsigned line;			 /* where the error is */
	enum bootcfg_error err;		 /* what it is */
	char name[BOOTCFG_NAME_MAX + 1]; /* the section's name ("" if none readable) */
};

struct bootcfg {
	size_t args_len; /* text[0..args_len) is the boot-argument text */
	unsigned nimages;
	struct bootcfg_image images[BOOTCFG_MAX_IMAGES];
	unsigned nerrors;     /* diagnostics kept in errors[] */
	unsigned errors_lost; /* more that did not fit */
	struct bootcfg_diag errors[BOOTCFG_MAX_ERRORS];
};

/* Parses text[0..len) (any bytes, NUL included) into *cfg (overwritten). */
void bootcfg_parse(const char *text, size_t len, struct bootcfg *cfg);

/* What an error means, for "sluice.cfg line <n>: image <name> dropped: ..." */
const char *bootcfg_strerror(enum bootcfg_error err);

#endif
