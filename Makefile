# sluice — top-level Makefile.
#
#   make run     installs what is missing, builds, boots QEMU to the console
#   make test    every test: host unit tests, brief fuzzing, QEMU scenarios
#   make bench   figures (host-native and in QEMU)
#   make fuzz    libFuzzer targets for FUZZ_SECONDS each (default 60)
#   make esp.img a FAT image with EFI/BOOT/BOOTX64.EFI for a USB stick
#   make fresh-test  make test of HEAD in a bare Debian 12 chroot (as .ci/run)
#   make format / lint / clean
#
# Test and bench sources name what they link in a first-lines comment:
#   // SOURCES: lib/parse.c kernel/frame.c

B := build
NEWLIB := $(B)/newlib/x86_64-elf
EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION := 0.1.0

CC := gcc
HOSTCC := gcc
CLANG := clang

# The hypervisor's own code, compiled against newlib (not the host libc).
# In guests/ only the top level (guests.c, images.S) is sluice's: the
# folders below it (guests/lib/, guests/<name>/) are the freestanding guest
# programs, built by the guest rules further down, never with KCFLAGS.
KDIRS := arch kernel drivers iommu dma vm guests console lib
kfind = $(shell find $(1) \( -path 'guests/*' -type d \) -prune -o -name '$(2)' -print 2>/dev/null | sort)
KSRC := $(call kfind,$(KDIRS),*.c)
KASM := $(call kfind,$(KDIRS),*.S)
BOOTSRC := $(wildcard boot/*.c)
HEADERS := $(call kfind,$(KDIRS) boot hw,*.h)

KCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wvla -Wno-unused-parameter \
	-ffreestanding -fpic -fno-stack-protector -fno-stack-check \
	-mno-red-zone -fno-strict-aliasing -fno-omit-frame-pointer \
	-I. -isystem $(NEWLIB)/include \
	-DSLUICE_VERSION=\"$(VERSION)\" -DSLUICE_COMMIT=\"$(COMMIT)\"
# boot/ is the only code that sees UEFI (GNU-EFI headers, 16-bit CHAR16).
BCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wvla -Wno-unused-parameter \
	-ffreestanding -fpic -fno-stack-protector -fno-stack-check \
	-fshort-wchar -mno-red-zone -maccumulate-outgoing-args \
	-DGNU_EFI_USE_MS_ABI -I. -I$(EFI_INC) -I$(EFI_INC)/x86_64

KOBJ := $(patsubst %.c,$(B)/k/%.o,$(KSRC)) $(patsubst %.S,$(B)/k/%.o,$(KASM))
BOBJ := $(patsubst %.c,$(B)/k/%.o,$(BOOTSRC))
# Recursive (=): asked when sluice.so is linked, not when make starts, so a
# machine without gcc yet (setup installs it) gets no error and a right path.
LIBGCC = $(shell $(CC) -print-libgcc-file-name)

.PHONY: all guests run test unit fuzz fuzz-brief qemu-test bench format lint clean setup esp.img newlib fresh-test

all: $(B)/sluice.efi

setup:
	@scripts/setup.sh

newlib: $(NEWLIB)/lib/libc.a
$(NEWLIB)/lib/libc.a:
	@scripts/setup.sh
	scripts/build-newlib.sh $(B)/newlib

$(B)/k/boot/%.o: boot/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BCFLAGS) -c $< -o $@

$(B)/k/%.o: %.c $(HEADERS) | $(NEWLIB)/lib/libc.a
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c $< -o $@

$(B)/k/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c $< -o $@

# ---------------------------------------------------------------- guests
# Built-in guests: build/guests/<name>.bin from guests/<name>/*.c and the
# runtime guests/lib/ (start.S first), flat binaries linked at GUEST_LOAD
# with the entry at their first byte (guests/abi.h), embedded in sluice by
# guests/images.S.  A binary larger than GUEST_IMAGE_MAX, or whose entry or
# extent is not what the ABI says, fails the build.
abi_const = $(shell sed -n 's/^\#define $(1) \(0x[0-9a-fA-F]*\).*/\1/p' guests/abi.h)
GUEST_LOAD := $(call abi_const,GUEST_LOAD)
GUEST_IMAGE_MAX := $(call abi_const,GUEST_IMAGE_MAX)
GUEST_NAMES := $(sort $(filter-out lib,$(notdir $(patsubst %/,%,$(dir $(wildcard guests/*/*.c))))))
GUEST_BINS := $(patsubst %,$(B)/guests/%.bin,$(GUEST_NAMES))
GUEST_LIB_OBJ := $(patsubst guests/%.S,$(B)/guests/%.o,$(wildcard guests/lib/*.S)) \
	$(patsubst guests/%.c,$(B)/guests/%.o,$(wildcard guests/lib/*.c))
GUEST_HDRS := guests/abi.h $(wildcard guests/lib/*.h)
GCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wvla \
	-ffreestanding -nostdlib -fno-pic -fno-pie -mcmodel=small -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-stack-check -fcf-protection=none \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-common \
	-fno-delete-null-pointer-checks -fno-tree-loop-distribute-patterns -I.

guests: $(GUEST_BINS)

$(B)/guests/%.o: guests/%.c $(GUEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(GCFLAGS) -c $< -o $@

$(B)/guests/%.o: guests/%.S $(GUEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(GCFLAGS) -c $< -o $@

define guest_rule
$(B)/guests/$(1).elf: $(patsubst guests/%.c,$(B)/guests/%.o,$(wildcard guests/$(1)/*.c)) $(GUEST_LIB_OBJ) guests/lib/guest.lds
	ld -nostdlib -static --build-id=none -z noexecstack -z max-page-size=4096 --no-warn-rwx-segments \
		-T guests/lib/guest.lds --defsym=GUEST_LOAD_ADDR=$(GUEST_LOAD) \
		-o $$@ $$(filter %.o,$$^)
endef
$(foreach g,$(GUEST_NAMES),$(eval $(call guest_rule,$(g))))

guest_sym = $$(nm $(1) | awk '$$3 == "$(2)" { print "0x" $$1 }')
$(B)/guests/%.bin: $(B)/guests/%.elf
	objcopy -O binary $< $@
	@size=$$(stat -c %s $@); start=$(call guest_sym,$<,_start); end=$(call guest_sym,$<,__image_end); \
	err=""; \
	[ "$$((start))" -eq "$$(($(GUEST_LOAD)))" ] || err="entry $$start is not GUEST_LOAD"; \
	[ "$$size" -eq "$$((end - $(GUEST_LOAD)))" ] || err="$$size bytes, image ends at $$end"; \
	[ "$$size" -gt 0 ] && [ "$$size" -le "$$(($(GUEST_IMAGE_MAX)))" ] || \
		err="$$size bytes, GUEST_IMAGE_MAX is $(GUEST_IMAGE_MAX)"; \
	if [ -n "$$err" ]; then echo "$@: $$err" >&2; rm -f $@; exit 1; fi

$(B)/k/guests/images.o: $(GUEST_BINS)

# The commit id changes without any source changing.
$(B)/k/kernel/version.o: FORCE
FORCE:

# GNU-EFI's libefi carries its own memset/memcpy; weakened, newlib's win.
$(B)/libefi.a: $(EFI_LIB)/libefi.a
	@mkdir -p $(B)
	objcopy --weaken-symbol=memset --weaken-symbol=memcpy $< $@

$(B)/sluice.so: $(BOBJ) $(KOBJ) boot/sluice.lds $(NEWLIB)/lib/libc.a $(B)/libefi.a
	ld -shared -Bsymbolic -nostdlib -z noexecstack -z defs -T boot/sluice.lds \
		$(EFI_LIB)/crt0-efi-x86_64.o $(BOBJ) $(KOBJ) \
		--start-group $(NEWLIB)/lib/libc.a $(LIBGCC) \
		$(EFI_LIB)/libgnuefi.a $(B)/libefi.a --end-group -o $@

$(B)/sluice.efi: $(B)/sluice.so
	objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel \
		-j .rela -j .rel.* -j .rela.* -j .reloc \
		--target efi-app-x86_64 --subsystem=10 $< $@
	@echo "built $@ ($(COMMIT))"

esp.img: $(B)/esp.img
$(B)/esp.img: $(B)/sluice.efi
	rm -f $@
	mkfs.fat -C -n SLUICE $@ 65536 >/dev/null
	mmd -i $@ ::/EFI ::/EFI/BOOT
	mcopy -i $@ $< ::/EFI/BOOT/BOOTX64.EFI
	@echo "wrote $@: dd it to a USB stick (see README)"

run: setup $(B)/sluice.efi
	python3 tools/sluice_qemu.py run

# ---------------------------------------------------------------- tests
UNIT_COMMON := tests/unit/test_main.c tests/unit/fake_hw.c tests/unit/host_console.c tests/unit/host_time.c lib/err.c
UNIT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wvla -Wno-unused-parameter \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -I. -Itests/unit -DHOST_TEST
srcs_of = $(shell sed -n 's|^// SOURCES:||p' $(1))
UNIT_TESTS := $(filter-out tests/unit/test_main.c,$(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_TESTS))

define unit_rule
$(B)/unit/$(basename $(notdir $(1))): $(1) $(call srcs_of,$(1)) $(UNIT_COMMON) $(HEADERS) $(wildcard tests/unit/*.h)
	@mkdir -p $(B)/unit
	$(HOSTCC) $(UNIT_CFLAGS) -o $$@ $(1) $(filter-out $(UNIT_COMMON),$(call srcs_of,$(1))) $(UNIT_COMMON) -lm
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))
# guests/images.S embeds the guest binaries.
$(B)/unit/test_guests: $(GUEST_BINS)

unit: $(UNIT_BINS)
	@python3 tools/run_tests.py unit $(UNIT_BINS)

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -Itests/unit -DHOST_TEST -Wno-unused-parameter
define fuzz_rule
$(B)/fuzz/$(basename $(notdir $(1))): $(1) $(call srcs_of,$(1)) $(HEADERS)
	@mkdir -p $(B)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) -o $$@ $(1) $(call srcs_of,$(1)) tests/fuzz/stubs.c lib/err.c
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

fuzz: setup $(FUZZ_BINS)
	@python3 tools/run_tests.py fuzz --seconds $(FUZZ_SECONDS) $(FUZZ_BINS)
fuzz-brief: $(FUZZ_BINS)
	@python3 tools/run_tests.py fuzz --seconds 10 $(FUZZ_BINS)

QEMU_TESTS := $(sort $(wildcard tests/qemu/test_*.py))
qemu-test: $(B)/sluice.efi $(B)/esp.img
	@python3 tools/run_tests.py qemu $(QEMU_TESTS)

test: setup
	@$(MAKE) --no-print-directory -j2 all $(B)/esp.img $(UNIT_BINS) $(FUZZ_BINS)
	@python3 tools/run_tests.py all --fuzz-seconds 10 \
		--unit $(UNIT_BINS) --fuzz $(FUZZ_BINS) --qemu $(QEMU_TESTS)

# A bare Debian 12 (debootstrap chroot, git and make added) runs make test on
# a clone of HEAD: what .ci/run does.  See docs/testing.md.
fresh-test:
	@scripts/fresh-test.sh

# ---------------------------------------------------------------- bench
BENCH_SRCS := $(wildcard bench/host_*.c)
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRCS))
BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wvla -Wno-unused-parameter \
	-I. -Itests/unit -DHOST_TEST
define bench_rule
$(B)/bench/$(basename $(notdir $(1))): $(1) $(call srcs_of,$(1)) $(HEADERS)
	@mkdir -p $(B)/bench
	$(HOSTCC) $(BENCH_CFLAGS) -o $$@ $(1) $(call srcs_of,$(1)) tests/unit/fake_hw.c tests/unit/host_console.c tests/unit/host_time.c lib/err.c -lm
endef
$(foreach t,$(BENCH_SRCS),$(eval $(call bench_rule,$(t))))

bench: setup $(B)/sluice.efi $(BENCH_BINS)
	@for b in $(BENCH_BINS); do $$b || exit 1; done
	@python3 tools/bench_qemu.py

# ---------------------------------------------------------------- hygiene
FMT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FMT_FILES)
lint:
	cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
		--suppress=missingIncludeSystem --suppress=unusedFunction \
		-DHOST_TEST -DMUST_CHECK= -I. $(KDIRS) boot
	python3 tools/check_layers.py

clean:
	rm -rf $(B)/k $(B)/guests $(B)/unit $(B)/fuzz $(B)/bench $(B)/sluice.* $(B)/esp.img
