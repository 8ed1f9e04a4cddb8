#!/bin/sh
# scripts/setup.sh — installs what sluice needs to build, run and test, if
# missing.  Idempotent and quiet when everything is there.  Called by
# `make run`, `make test` and .ci/run; needs root (or sudo) only when
# something is missing.
set -eu

PKGS="gcc make binutils gnu-efi qemu-system-x86 ovmf newlib-source mtools dosfstools clang python3 git xz-utils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "setup: installing$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
