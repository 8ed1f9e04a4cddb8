// SOURCES: guests/guests.c guests/images.S
/*
 * tests/unit/test_guests.c — the table of built-in guest images: names
 * unique, sizes within GUEST_IMAGE_MAX, every image the one the Makefile
 * built (byte for byte) with start.S's first instruction at its first
 * byte, lookups by index and by name.  That the guests run is proven by
 * the QEMU scenarios that start them in a VM.
 */
#include <stdlib.h>
#include <string.h>

#include "guests/abi.h"
#include "guests/guests.h"
#include "test.h"

#define OP_CLI 0xfa /* guests/lib/start.S begins with cli */

static const char *const expected[] = {"hello", "spin", "edu-test"};

/* Whether the image holds the bytes of s (its own strings). */
static bool image_has(const struct guest_image *g, const char *s)
{
	size_t n = strlen(s);

	for (uint64_t i = 0; i + n <= g->size; i++)
		if (memcmp(g->data + i, s, n) == 0)
			return true;
	return false;
}

TEST(table_entries_are_sane)
{
	unsigned n = guest_image_count();

	CHECK(n >= sizeof(expected) / sizeof(expected[0]));
	for (unsigned i = 0; i < n; i++) {
		const struct guest_image *g = guest_image_at(i);

		CHECK(g != NULL);
		if (!g)
			continue;
		CHECK(g->name && g->name[0]);
		CHECK(g->desc && g->desc[0]);
		CHECK(g->data != NULL);
		CHECK(g->size > 0);
		CHECK(g->size <= GUEST_IMAGE_MAX);
		CHECK_EQ(g->data[0], OP_CLI);
		for (unsigned j = 0; j < i; j++) {
			CHECK(strcmp(guest_image_at(j)->name, g->name) != 0);
			CHECK(guest_image_at(j)->data != g->data);
		}
	}
	CHECK(guest_image_at(n) == NULL);
	CHECK(guest_image_at(~0u) == NULL);
}

TEST(find_by_name)
{
	for (unsigned i = 0; i < guest_image_count(); i++) {
		const struct guest_image *g = guest_image_at(i);

		CHECK(guest_image_find(g->name) == g);
	}
	for (unsigned i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		CHECK(guest_image_find(expected[i]) != NULL);
	CHECK(guest_image_find("nope") == NULL);
	CHECK(guest_image_find("") == NULL);
	CHECK(guest_image_find(NULL) == NULL);
	CHECK(guest_image_find("hell") == NULL);
	CHECK(guest_image_find("hello ") == NULL);
	CHECK(guest_image_find("HELLO") == NULL);
}

/* Each entry carries the binary build/guests/<name>.bin, byte for byte. */
TEST(images_are_the_built_binaries)
{
	for (unsigned i = 0; i < guest_image_count(); i++) {
		const struct guest_image *g = guest_image_at(i);
		char path[256];

		snprintf(path, sizeof(path), "build/guests/%s.bin", g->name);
		FILE *f = fopen(path, "rb");

		CHECK(f != NULL);
		if (!f)
			continue;
		uint8_t *buf = malloc(GUEST_IMAGE_MAX + 1);
		size_t got = fread(buf, 1, GUEST_IMAGE_MAX + 1, f);

		fclose(f);
		CHECK_EQ(got, g->size);
		CHECK(got == g->size && memcmp(buf, g->data, got) == 0);
		free(buf);
	}
}

/* The entries point at the right programs (their own output strings). */
TEST(images_match_their_names)
{
	const struct guest_image *hello = guest_image_find("hello");
	const struct guest_image *spin = guest_image_find("spin");
	const struct guest_image *edu = guest_image_find("edu-test");

	CHECK(hello && image_has(hello, "hello from guest"));
	CHECK(spin && image_has(spin, "spin: spinning"));
	CHECK(edu && image_has(edu, "result=done passed="));
	CHECK(edu && image_has(edu, "edu-test: pattern gpa="));
	CHECK(hello && !image_has(hello, "result=done"));
}
