#!/bin/sh
# scripts/build-newlib.sh OUT — builds Debian's newlib-source into OUT as a
# freestanding x86_64 libc for sluice (never committed).  The host gcc stands
# in for a cross compiler through small wrapper scripts.
set -eu
out=$(realpath -m "$1")
tarball=$(ls /usr/src/newlib/newlib-*.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { echo "newlib-source is not installed" >&2; exit 1; }

work="$out/work"
rm -rf "$work" "$out/x86_64-elf"
mkdir -p "$work/bin"
for t in gcc:gcc cc:gcc ar:ar as:as ranlib:ranlib ld:ld nm:nm objcopy:objcopy strip:strip readelf:readelf; do
	name=${t%%:*}
	tool=${t#*:}
	printf '#!/bin/sh\nexec %s "$@"\n' "$tool" > "$work/bin/x86_64-elf-$name"
	chmod +x "$work/bin/x86_64-elf-$name"
done
tar -C "$work" -xf "$tarball"
src=$(find "$work" -maxdepth 3 -name configure -path '*/newlib/configure' | head -n 1)
src=$(dirname "$src")
mkdir -p "$work/build"
cd "$work/build"
PATH="$work/bin:$PATH" "$src/configure" --target=x86_64-elf --host=x86_64-elf \
	--build=x86_64-linux-gnu --prefix="$out" --disable-multilib \
	--disable-newlib-supplied-syscalls --enable-newlib-nano-malloc \
	--enable-newlib-io-long-long --enable-newlib-io-c99-formats \
	CFLAGS="-O2 -ffreestanding -fPIC -mno-red-zone -fno-stack-protector -w" >config.out 2>&1 ||
	{ tail -n 30 config.out >&2; exit 1; }
PATH="$work/bin:$PATH" make -j"$(nproc)" >make.out 2>&1 || { tail -n 40 make.out >&2; exit 1; }
PATH="$work/bin:$PATH" make install >install.out 2>&1 || { tail -n 20 install.out >&2; exit 1; }
rm -rf "$work"
test -f "$out/x86_64-elf/lib/libc.a"
echo "newlib: built into $out" >&2
