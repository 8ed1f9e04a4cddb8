/*
 * console/lineedit.h — the console's line editor, pure logic (host-tested and
 * fuzzed).  Bytes go in one at a time; it says what to echo and when a line
 * is complete.  Lines of LINE_MAX bytes or more, control characters and
 * escape sequences make the line invalid (the console answers ERR).
 */
#ifndef SLUICE_CONSOLE_LINEEDIT_H
#define SLUICE_CONSOLE_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>

#define LINE_MAX 4096 /* a line must be shorter than this */

enum le_status {
	LE_OK = 0,    /* line is fine */
	LE_TOO_LONG,  /* >= LINE_MAX bytes */
	LE_CONTROL,   /* held a control character */
	LE_ESCAPE,    /* held an escape sequence */
	LE_CANCELLED, /* Ctrl-C */
};

struct lineedit {
	char buf[LINE_MAX];
	size_t len;   /* bytes kept in buf (without NUL) */
	size_t total; /* bytes of the line, kept or not */
	enum le_status status;
	int esc;       /* 0 none, 1 after ESC, 2 in CSI */
	bool after_cr; /* swallow the LF of CRLF */
	char echo[8];  /* what to send back for the last byte */
	size_t echo_len;
};

void le_reset(struct lineedit *le);
/* Feeds one byte; returns true when a line is complete (le->buf holds it,
 * NUL-terminated, le->status says whether it is valid).  Call le_reset()
 * before feeding the next line. */
bool le_feed(struct lineedit *le, unsigned char c);
const char *le_status_text(enum le_status s);

#endif
