#!/usr/bin/env bash
# scripts/fresh-test.sh — proves that a bare Debian 12 passes `make test`.
#
# It builds a fresh Debian 12 (bookworm) with `debootstrap --variant=minbase`
# from the Debian mirror this machine's apt sources already name, and inside
# it does what the README asks of a new user:
#
#   apt-get install git make           (the only packages added by hand)
#   git clone <this repository, HEAD>  (the commit, not the work tree)
#   make test                          (scripts/setup.sh installs the rest)
#
# The exit status is that of make test in the chroot, and the output ends
# with its `N passed, N failed` line.  Run by .ci/run and `make fresh-test`.
#
# Needs root (re-runs itself with sudo otherwise) and runs in its own mount
# and PID namespaces: every mount it makes and every process it starts goes
# away when it exits, whatever way it exits.  The traps unmount in order on
# exit, failure or Ctrl-C as well.
#
# Downloads are kept between runs in $SLUICE_FRESH_CACHE (default
# /var/cache/sluice-fresh): debootstrap/ (debootstrap --cache-dir) and apt/
# (bind-mounted as the chroot's /var/cache/apt/archives).  The chroot
# itself, chroot/ there, is new each run and removed at the end (or, after a
# hard kill, at the start of the next run).  last.log keeps the last output.
# shellcheck disable=SC2317  # functions called from traps and retry
set -euo pipefail

SUITE=bookworm
CACHE=${SLUICE_FRESH_CACHE:-/var/cache/sluice-fresh}
REPO=$(cd "$(dirname "$0")/.." && pwd -P)

say() { echo "fresh-test: $*" >&2; }
die() { say "$*"; exit 1; }

# ---------------------------------------------------------------- root, namespaces
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "needs root (or sudo)"
	exec sudo -- env SLUICE_FRESH_CACHE="$CACHE" "$0" "$@"
fi
if [ "${SLUICE_FRESH_NS:-}" != 1 ]; then
	# Private mounts (nothing propagates to the host) and a PID namespace
	# in which this script is process 1: when it ends, everything in the
	# chroot is killed by the kernel.  If unshare itself is killed, this
	# script gets SIGTERM and cleans up.
	export SLUICE_FRESH_NS=1
	exec unshare --mount --propagation private --pid --fork --mount-proc \
		--kill-child=SIGTERM -- "$0" "$@"
fi

case "$CACHE" in /*) ;; *) die "SLUICE_FRESH_CACHE must be an absolute path" ;; esac
case "$CACHE" in *[[:space:]]*) die "SLUICE_FRESH_CACHE must not contain blanks" ;; esac
mkdir -p "$CACHE/debootstrap" "$CACHE/apt"
CACHE=$(realpath "$CACHE")
ROOT=$CACHE/chroot
LOG=$CACHE/last.log

# One run at a time: the chroot path and the caches are shared.
exec 9>"$CACHE/lock"
if ! flock -n 9; then
	say "another fresh-test holds $CACHE/lock; waiting"
	flock 9
fi

# ---------------------------------------------------------------- cleanup
mounts_below() { # mount points at or below $1, deepest first
	awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
kill_chroot_procs() { # anything whose root is the chroot (QEMU after a Ctrl-C)
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	return 0
}
unmount_all() {
	local m
	for m in $(mounts_below "$ROOT"); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	[ -z "$(mounts_below "$ROOT")" ]
}
remove_chroot() {
	[ -e "$ROOT" ] || return 0
	kill_chroot_procs
	unmount_all || die "cannot unmount everything below $ROOT; not removing it"
	# --one-file-system: never follow into anything still mounted.
	rm -rf --one-file-system "$ROOT"
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	remove_chroot || rc=1
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted; cleaning up ($(date +%T))"; exit 130' INT
trap 'say "terminated; cleaning up ($(date +%T))"; exit 143' TERM
trap 'say "hung up; cleaning up ($(date +%T))"; exit 129' HUP

retry() { # once more after a failure (a mirror hiccup)
	"$@" || { say "failed, retrying once: $*"; sleep 5; "$@"; }
}

# ---------------------------------------------------------------- host
export DEBIAN_FRONTEND=noninteractive
need=""
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
command -v git >/dev/null 2>&1 || need="$need git"
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need="$need debian-archive-keyring"
if [ -n "$need" ]; then
	say "installing on the host:$need"
	retry apt-get update -qq
	# shellcheck disable=SC2086
	retry apt-get install -y -qq $need >/dev/null
fi

# "URI SUITE" for every deb entry in this machine's apt sources (one-line
# .list files and deb822 .sources files).
host_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
		function flush(  n, m, i, j, u, s) {
			if (types ~ /(^| )deb( |$)/ && enabled != "no") {
				n = split(uris, u, " "); m = split(suites, s, " ")
				for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j]
			}
			types = uris = suites = enabled = key = ""
		}
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[ \t]/ { if (key == "uris") uris = uris " " $0; if (key == "suites") suites = suites " " $0; next }
		{
			key = tolower($1); sub(/:.*/, "", key)
			val = $0; sub(/^[^:]*:[ \t]*/, "", val)
			if (key == "types") types = val
			if (key == "uris") uris = val
			if (key == "suites") suites = val
			if (key == "enabled") enabled = tolower(val)
		}
		END { flush() }' "$f"
	done
}
SOURCES=$(host_sources | awk '$1 ~ /^(https?|file):/' | sort -u)
MIRROR=$(echo "$SOURCES" | awk -v s="$SUITE" '!m && $2 == s { print m = $1 }')
# A host on another Debian release: its main mirror carries bookworm too.
[ -n "$MIRROR" ] || MIRROR=$(echo "$SOURCES" | awk '!m && $2 !~ /-security$/ { print m = $1 }')
[ -n "$MIRROR" ] || die "no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/"

# The commit under test.
git_() { git -c safe.directory='*' -C "$REPO" "$@"; }
HEAD=$(git_ rev-parse HEAD)
if [ -n "$(git_ status --porcelain)" ]; then
	say "WARNING: the work tree has changes that are not committed; only HEAD is tested:"
	git_ status --short | head -n 10 >&2
fi
say "testing commit $(git_ log -1 --format='%h %s' HEAD)"
say "Debian $SUITE minbase from $MIRROR; downloads cached in $CACHE"

# ---------------------------------------------------------------- chroot
T0=$(date +%s)
elapsed() { local s=$(($(date +%s) - T0)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

remove_chroot # left over from a run that was killed hard
debootstrap_() {
	rm -rf --one-file-system "$ROOT"
	debootstrap --variant=minbase --cache-dir="$CACHE/debootstrap" \
		"$SUITE" "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; unmount_all; return 1; }
}
say "debootstrap"
retry debootstrap_

# apt sources: the host's entries for bookworm and its -updates/-security.
echo "$SOURCES" | awk -v s="$SUITE" '$2 == s || $2 == s "-updates" || $2 == s "-security" { print "deb", $1, $2, "main" }' \
	>"$ROOT/etc/apt/sources.list"
grep -q " $SUITE main\$" "$ROOT/etc/apt/sources.list" || echo "deb $MIRROR $SUITE main" >>"$ROOT/etc/apt/sources.list"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

# What a booted machine has: /proc, /sys, a small /dev, and the apt cache.
mount -t proc proc "$ROOT/proc"
mount -t sysfs -o ro sysfs "$ROOT/sys"
mount -t tmpfs -o mode=0755,nosuid dev "$ROOT/dev"
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	IFS=: read -r name major minor <<<"$d"
	mknod -m 0666 "$ROOT/dev/$name" c "$major" "$minor"
done
ln -s /proc/self/fd "$ROOT/dev/fd"
ln -s /proc/self/fd/0 "$ROOT/dev/stdin"
ln -s /proc/self/fd/1 "$ROOT/dev/stdout"
ln -s /proc/self/fd/2 "$ROOT/dev/stderr"
mkdir "$ROOT/dev/pts" "$ROOT/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$ROOT/dev/pts"
ln -s pts/ptmx "$ROOT/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm"
mount --bind "$CACHE/apt" "$ROOT/var/cache/apt/archives"

# The repository under test, as a bare clone for the chroot's git to clone.
git_ clone -q --bare --no-local "$REPO" "$ROOT/var/tmp/sluice.git"

in_chroot() { # a login-like root shell: clean environment, no stdin
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "$1" </dev/null
}

say "apt-get install git make ($(elapsed))"
in_chroot 'apt-get update -qq' || in_chroot 'sleep 5; apt-get update -qq'
in_chroot 'export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends git make >/dev/null ||
	{ sleep 5; apt-get update -qq; apt-get install -y -qq --no-install-recommends git make >/dev/null; }'

in_chroot "cd /root && git -c advice.detachedHead=false clone -q /var/tmp/sluice.git sluice && cd sluice &&
	git -c advice.detachedHead=false checkout -q $HEAD" ||
	die "git clone in the chroot failed"

say "make test in the chroot ($(elapsed))"
set +e
in_chroot 'cd /root/sluice && make test' 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
in_chroot 'apt-get autoclean -qq' >/dev/null 2>&1 || true # drop debs the mirror no longer has

remove_chroot
say "make test in a fresh Debian $SUITE exited $rc after $(elapsed) (log: $LOG)"
# End with the runner's own last line, as make test itself does.
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n 1 || true)
[ -z "$last" ] || echo "$last"
exit "$rc"
