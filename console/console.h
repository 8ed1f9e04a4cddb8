/*
 * console/console.h — the serial console: output primitives and the command
 * table.  The contract for what appears on the wire is ../shared/CONSOLE.md.
 *
 * A command is a function taking the words of the line (argv[0] is the
 * command's first word).  It prints its data records with con_printf() and
 * returns 0 for OK or a negative errno; on error it should call cmd_fail()
 * so the status line carries a message a person can act on:
 *
 *     return cmd_fail(-EINVAL, "bad bdf '%s'", argv[1]);
 *
 * The dispatcher prints exactly one status line: `OK` or
 * `ERR <NAME> <message>`.
 *
 * Commands register themselves with COMMAND(); the linker gathers them.
 * In host tests con_printf() writes to a buffer the test can read.
 */
#ifndef SLUICE_CONSOLE_CONSOLE_H
#define SLUICE_CONSOLE_CONSOLE_H

#include <stdarg.h>
#include <stdbool.h>

#include "kernel/log.h"

struct command {
	const char *name;  /* first word, or "word1 word2" for sub-commands */
	const char *usage; /* one line of help: "mem fill <hpa> <len> <byte>" */
	int (*fn)(int argc, char **argv);
};

#define COMMAND(ident, nm, use, func)                                         \
	static const struct command command_##ident                           \
		__attribute__((used, section("sluice_cmds"), aligned(8))) = { \
			.name = (nm), .usage = (use), .fn = (func)}

/* Output text; the caller writes whole lines ending in "\n". */
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records the message for the ERR status line; returns err unchanged. */
int cmd_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The sink kernel/log.h writes klog()/kevent() lines and raw bytes to;
 * bring-up installs it with log_set_sink(). */
extern const struct log_sink console_log_sink;

/* "00:03.0" -> the PCI device, or cmd_fail() saying why (EINVAL bad
 * text, ENODEV no such function) (console/cmd_dma.c). */
struct pci_dev;
int cmd_get_dev(const char *bdf, struct pci_dev **out);

/* Runs one command line (already edited); prints its output and status. */
void console_exec(char *line);

/* Prints "sluice: ready" and runs the prompt loop; never returns. */
void console_run(void) __attribute__((noreturn));
/* fn runs whenever the console is idle (e.g. polling for IOMMU faults). */
void console_add_idle(void (*fn)(void));
/* fn runs instead of sleeping when the console is idle: it runs one time
 * slice of a guest and returns true, or false when no guest wants to run
 * (the console then sleeps until the next interrupt). */
void console_set_runner(bool (*fn)(void));

#endif
