/*
 * guests/images.S — the built-in guest binaries (build/guests/<name>.bin,
 * made by the Makefile from guests/<name>/ and guests/lib/) and the table
 * guests/guests.c looks them up in: struct guest_image {name, desc, data,
 * size}, four quads per entry.  Pointers live in .data.rel.ro so both the
 * PIC sluice image and a PIE host test get them relocated.
 *
 * GUEST id, "name", "description" adds one; the order is `vm guests`'s.
 */
.macro GUEST id, name, desc
	.section .rodata.guest_\id, "a"
	.balign	16
guest_data_\id:
	.incbin	"build/guests/\name\().bin"	/* $(B) is build */
guest_data_end_\id:
guest_name_\id:
	.asciz	"\name"
guest_desc_\id:
	.asciz	"\desc"
	.section .data.rel.ro.guest_images, "aw"
	.quad	guest_name_\id, guest_desc_\id, guest_data_\id
	.quad	guest_data_end_\id - guest_data_\id
.endm

	.section .data.rel.ro.guest_images, "aw"
	.balign	8
	.globl	guest_images
guest_images:
	GUEST hello, "hello", "prints one line and exits with code 0"
	GUEST spin, "spin", "prints one line, then spins forever"
	GUEST edu_test, "edu-test", "edu passthrough checks: BAR, DMA, MSI, outside-RAM DMA, hinting"
	GUEST misbehave, "misbehave", "does one wrong thing named on its serial input"
	GUEST vmcall_bench, "vmcall-bench", "100000 hypercalls: the VM exit round trip"
	GUEST edu_bench, "edu-bench", "10 edu DMAs of 2 KiB: guest-driven DMA through the IOMMU"
guest_images_end:

	.section .rodata.guest_images, "a"
	.balign	8
	.globl	guest_images_count
guest_images_count:
	.quad	(guest_images_end - guest_images) / 32

	.section .note.GNU-stack, "", @progbits
