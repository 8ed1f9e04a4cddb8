// SOURCES: console/lineedit.c
/* tests/unit/test_lineedit.c — the console line editor. */
#include <string.h>

#include "console/lineedit.h"
#include "test.h"

static struct lineedit le;

/* Feeds s; returns the number of completed lines (the last is in le.buf). */
static int feed(const char *s, size_t n)
{
	int lines = 0;
	for (size_t i = 0; i < n; i++) {
		if (le_feed(&le, (unsigned char)s[i])) {
			lines++;
			if (i + 1 < n)
				le_reset(&le);
		}
	}
	return lines;
}
#define FEED(s) feed((s), sizeof(s) - 1)

TEST(simple_line)
{
	memset(&le, 0, sizeof(le));
	le_reset(&le);
	CHECK_EQ(FEED("version\r"), 1);
	CHECK(!strcmp(le.buf, "version"));
	CHECK_EQ(le.status, LE_OK);
}

TEST(crlf_counts_once)
{
	memset(&le, 0, sizeof(le));
	le_reset(&le);
	CHECK_EQ(FEED("a\r\nb\n"), 2);
	CHECK(!strcmp(le.buf, "b"));
	le_reset(&le);
	CHECK_EQ(FEED("\n\n"), 2); /* bare LFs are lines */
}

TEST(backspace_edits)
{
	memset(&le, 0, sizeof(le));
	le_reset(&le);
	CHECK_EQ(FEED("verx\x08sion\x7f\x7fon\r"), 1);
	CHECK(!strcmp(le.buf, "version"));
	le_reset(&le);
	CHECK_EQ(FEED("\x08\x08x\r"), 1); /* backspace on empty line is harmless */
	CHECK(!strcmp(le.buf, "x"));
}

TEST(control_and_escape_invalidate)
{
	memset(&le, 0, sizeof(le));
	le_reset(&le);
	CHECK_EQ(FEED("ab\x01"
		      "c\r"),
		 1);
	CHECK_EQ(le.status, LE_CONTROL);
	le_reset(&le);
	CHECK_EQ(FEED("ver\x1b[1;5Asion\r"), 1);
	CHECK_EQ(le.status, LE_ESCAPE);
	CHECK(!strcmp(le.buf, "version")); /* the sequence itself is swallowed */
	le_reset(&le);
	CHECK_EQ(FEED("x\x1bOy\r"), 1);
	CHECK_EQ(le.status, LE_ESCAPE);
	le_reset(&le);
	CHECK_EQ(FEED("\xc3\xa9\r"), 1); /* non-ASCII is a control error too */
	CHECK_EQ(le.status, LE_CONTROL);
}

TEST(ctrl_c_cancels_at_once)
{
	memset(&le, 0, sizeof(le));
	le_reset(&le);
	CHECK_EQ(FEED("half a line\x03"), 1);
	CHECK_EQ(le.status, LE_CANCELLED);
}

TEST(too_long)
{
	static char big[5002];
	memset(&le, 0, sizeof(le));
	le_reset(&le);
	memset(big, 'x', 5000);
	big[5000] = '\r';
	CHECK_EQ(feed(big, 5001), 1);
	CHECK_EQ(le.status, LE_TOO_LONG);
	CHECK(le.len < LINE_MAX);
	/* exactly LINE_MAX - 1 bytes is still fine, LINE_MAX is not */
	le_reset(&le);
	memset(big, 'y', LINE_MAX - 1);
	big[LINE_MAX - 1] = '\r';
	CHECK_EQ(feed(big, LINE_MAX), 1);
	CHECK_EQ(le.status, LE_OK);
	CHECK_EQ(strlen(le.buf), LINE_MAX - 1);
	le_reset(&le);
	memset(big, 'y', LINE_MAX);
	big[LINE_MAX] = '\r';
	CHECK_EQ(feed(big, LINE_MAX + 1), 1);
	CHECK_EQ(le.status, LE_TOO_LONG);
}

TEST(echo)
{
	memset(&le, 0, sizeof(le));
	le_reset(&le);
	le_feed(&le, 'a');
	CHECK_EQ(le.echo_len, 1);
	CHECK_EQ(le.echo[0], 'a');
	le_feed(&le, 0x7f);
	CHECK_EQ(le.echo_len, 3);
	CHECK(!memcmp(le.echo, "\b \b", 3));
	le_feed(&le, '\r');
	CHECK(!memcmp(le.echo, "\r\n", 2));
}
