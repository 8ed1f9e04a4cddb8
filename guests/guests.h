/*
 * guests/guests.h — the built-in guest images embedded in sluice (flat
 * binaries for guests/abi.h, built from guests/<name>/ by the Makefile and
 * included by guests/images.S).  docs/guests.md describes each guest.
 */
#ifndef SLUICE_GUESTS_GUESTS_H
#define SLUICE_GUESTS_GUESTS_H

#include <stdint.h>

struct guest_image {
	const char *name;    /* "hello", "spin", "edu-test" */
	const char *desc;    /* one line for `vm guests` */
	const uint8_t *data; /* loaded at GUEST_LOAD, entry at data[0] */
	uint64_t size;	     /* bytes, 0 < size <= GUEST_IMAGE_MAX */
};

unsigned guest_image_count(void);
/* NULL if i >= guest_image_count(). */
const struct guest_image *guest_image_at(unsigned i);
/* NULL if no built-in guest has that name. */
const struct guest_image *guest_image_find(const char *name);

#endif
