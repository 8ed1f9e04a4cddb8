#!/bin/sh
# scripts/setup.sh — installs what sluice needs to build, run and test, if
# missing.  Idempotent and quiet when everything is there.  Called by
# `make run`, `make test` and .ci/run; needs root (or sudo) only when
# something is missing.
set -eu

# Why each one (a bare Debian 12, debootstrap --variant=minbase, has none):
#   gcc make binutils    the build; gcc brings libasan/libubsan (unit tests)
#   clang libclang-rt-dev   libFuzzer targets: Debian's clang has no
#                        sanitizer or libFuzzer runtimes without the latter
#   gnu-efi              boot/ headers, crt0 and libefi
#   newlib-source xz-utils  newlib built from the .tar.xz (build-newlib.sh)
#   qemu-system-x86 ovmf the QEMU scenarios and `make run`
#   mtools dosfstools    make esp.img
#   python3              tools/ (test runner, QEMU harness)
#   git                  the commit id compiled in
PKGS="gcc make binutils clang libclang-rt-dev gnu-efi newlib-source xz-utils qemu-system-x86 ovmf mtools dosfstools python3 git"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "setup: installing$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt_install() {
	$SUDO apt-get update -qq &&
		$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
# A mirror hiccup gets one more try.
apt_install || { echo "setup: apt-get failed, retrying once" >&2; sleep 5; apt_install; }
