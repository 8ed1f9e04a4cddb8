/* console/lineedit.c — see lineedit.h. */
#include <string.h>

#include "console/lineedit.h"

void le_reset(struct lineedit *le)
{
	bool after_cr = le->after_cr;

	memset(le, 0, offsetof(struct lineedit, buf) + 1);
	le->len = 0;
	le->total = 0;
	le->status = LE_OK;
	le->esc = 0;
	le->echo_len = 0;
	le->after_cr = after_cr; /* a CRLF may straddle two lines */
}

static void echo(struct lineedit *le, const char *s)
{
	size_t n = strlen(s);

	memcpy(le->echo, s, n);
	le->echo_len = n;
}

static void mark(struct lineedit *le, enum le_status s)
{
	if (le->status == LE_OK)
		le->status = s;
}

bool le_feed(struct lineedit *le, unsigned char c)
{
	bool was_cr = le->after_cr;

	le->echo_len = 0;
	le->after_cr = false;

	if (le->esc == 1) { /* after ESC: '[' starts a CSI, anything else ends it */
		le->esc = c == '[' ? 2 : 0;
		return false;
	}
	if (le->esc == 2) { /* CSI: parameters until a final byte 0x40..0x7e */
		if (c >= 0x40 && c <= 0x7e)
			le->esc = 0;
		return false;
	}

	switch (c) {
	case '\n':
		if (was_cr)
			return false; /* CRLF counts once */
				      /* fall through */
	case '\r':
		le->after_cr = c == '\r';
		le->buf[le->len] = 0;
		echo(le, "\r\n");
		return true;
	case 0x08:
	case 0x7f:
		if (le->len && le->len == le->total) {
			le->len--;
			le->total--;
			echo(le, "\b \b");
		} else if (le->total) {
			le->total--; /* deleting past what was kept: line stays long */
		}
		return false;
	case 0x03: /* Ctrl-C cancels the line at once */
		mark(le, LE_CANCELLED);
		le->status = LE_CANCELLED;
		le->buf[le->len] = 0;
		echo(le, "^C\r\n");
		return true;
	case 0x1b:
		le->esc = 1;
		mark(le, LE_ESCAPE);
		return false;
	case '\t': c = ' '; break;
	default:
		if (c < 0x20 || c >= 0x80) {
			mark(le, LE_CONTROL);
			echo(le, "?");
			return false;
		}
	}
	le->total++;
	if (le->len + 1 >= LINE_MAX) {
		mark(le, LE_TOO_LONG);
		return false;
	}
	le->buf[le->len++] = (char)c;
	le->echo[0] = (char)c;
	le->echo_len = 1;
	return false;
}

const char *le_status_text(enum le_status s)
{
	switch (s) {
	case LE_OK: return "ok";
	case LE_TOO_LONG: return "line too long (4096 bytes or more)";
	case LE_CONTROL: return "control character in line";
	case LE_ESCAPE: return "escape sequence in line";
	case LE_CANCELLED: return "line cancelled";
	}
	return "bad line";
}
