// SOURCES: console/lineedit.c lib/parse.c
/* tests/fuzz/fuzz_console.c — the console's input path: bytes through the
 * line editor, completed lines split into words, every word through the
 * number and size parsers.  Checks the editor's invariants as it goes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console/lineedit.h"
#include "lib/parse.h"

static struct lineedit le;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[33];

	memset(&le, 0, sizeof(le));
	le_reset(&le);
	for (size_t i = 0; i < size; i++) {
		bool done = le_feed(&le, data[i]);
		if (le.len >= LINE_MAX || le.echo_len > sizeof(le.echo))
			abort();
		if (!done)
			continue;
		if (strlen(le.buf) != le.len)
			abort();
		if (le.status == LE_OK) {
			for (size_t k = 0; k < le.len; k++)
				if ((unsigned char)le.buf[k] < 0x20 ||
				    (unsigned char)le.buf[k] >= 0x7f)
					abort(); /* a valid line is printable */
			int n = split_words(le.buf, argv, 32);
			for (int w = 0; w < n; w++) {
				uint64_t v;
				if (!argv[w][0] || strchr(argv[w], ' '))
					abort();
				(void)parse_u64(argv[w], &v);
				(void)parse_size(argv[w], &v);
			}
		}
		le_reset(&le);
	}
	return 0;
}
