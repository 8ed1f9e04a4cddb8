/*
 * guests/guests.c — lookups over the table of built-in guest images that
 * guests/images.S lays out (the binaries are .incbin'd there, so the sizes
 * are assembly-time constants).
 */
#include "guests/guests.h"

#include <stddef.h>
#include <string.h>

/* images.S writes the table as four quads per entry. */
_Static_assert(sizeof(struct guest_image) == 32, "images.S entry layout");
_Static_assert(offsetof(struct guest_image, name) == 0, "images.S entry layout");
_Static_assert(offsetof(struct guest_image, desc) == 8, "images.S entry layout");
_Static_assert(offsetof(struct guest_image, data) == 16, "images.S entry layout");
_Static_assert(offsetof(struct guest_image, size) == 24, "images.S entry layout");

extern const struct guest_image guest_images[];
extern const uint64_t guest_images_count;

unsigned guest_image_count(void) { return (unsigned)guest_images_count; }

const struct guest_image *guest_image_at(unsigned i)
{
	return i < guest_image_count() ? &guest_images[i] : NULL;
}

const struct guest_image *guest_image_find(const char *name)
{
	if (!name)
		return NULL;
	for (unsigned i = 0; i < guest_image_count(); i++)
		if (strcmp(guest_images[i].name, name) == 0)
			return &guest_images[i];
	return NULL;
}
