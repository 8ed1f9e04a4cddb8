#!/usr/bin/env python3
"""tools/sluice_qemu.py — boots build/sluice.efi under QEMU and talks to its
serial console (Python 3 standard library only).

  python3 tools/sluice_qemu.py run [--cfg "args"] [-- extra qemu args]
      interactive: the console on this terminal (Ctrl-A X quits QEMU).
      The boot arguments default to RUN_CFG (allow_unsafe_interrupts:
      QEMU 7.2's VT-d cannot block compatibility-format interrupts, so no
      device could be attached without it); --cfg replaces them.

As a library (tests/qemu/*.py):
  with Sluice(devices=EDU) as s:
      recs, st = s.cmd("lspci")          # records (dicts), status line
      s.ok("as create")                  # asserts OK, returns records
      s.err("foo", "EINVAL")             # asserts ERR EINVAL

Every QEMU runs -accel tcg -machine q35 -cpu max with OVMF, a temporary ESP
(fat:rw:<dir> holding EFI/BOOT/BOOTX64.EFI and an optional sluice.cfg),
-device intel-iommu,intremap=on and edu devices with
dma_mask=0xffffffffffffffff (QEMU 7.2's edu masks DMA addresses to 28 bits
otherwise).
"""
import atexit
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EFI = os.path.join(ROOT, "build", "sluice.efi")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
QEMU = "qemu-system-x86_64"

EDU = ["-device", "edu,dma_mask=0xffffffffffffffff"]
# `run`'s boot arguments: QEMU 7.2's intel-iommu passes compatibility-format
# interrupts through (no GCMD.CFI), so its unit does not isolate interrupts
# and attaching a device needs allow_unsafe_interrupts (README).
RUN_CFG = "allow_unsafe_interrupts"
STATUS_RE = re.compile(r"^(OK|ERR ([A-Z0-9]+)(?: (.*))?)$")
PROMPT = "sluice> "


class SluiceError(Exception):
    pass


def parse_record(line):
    """'a=1 b=x' -> {'a': '1', 'b': 'x'}; None if the line is not a record."""
    rec = {}
    for word in line.split(" "):
        if "=" not in word:
            return None
        k, v = word.split("=", 1)
        rec[k] = v
    return rec or None


def qemu_cmdline(esp, vars_fd, mem="1G", iommu="intel-iommu,intremap=on",
                 devices=None, extra=None, trace=None, trace_file=None, disk=None):
    cmd = [QEMU, "-machine", "q35", "-accel", "tcg", "-cpu", "max",
           "-m", mem, "-smp", "1", "-display", "none", "-no-reboot",
           "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
           "-drive", "if=pflash,format=raw,file=" + vars_fd,
           "-drive", "format=raw,file=" + (disk if disk else "fat:rw:" + esp),
           "-net", "none"]
    if iommu:
        cmd += ["-device", iommu]
    cmd += devices if devices is not None else EDU
    if trace:
        for t in trace:
            cmd += ["-trace", t]
        if trace_file:
            cmd += ["-D", trace_file]
    if extra:
        cmd += extra
    return cmd


def make_esp(tmp, cfg=None, files=None):
    """files: {"path/on/esp": bytes} written into the ESP as well."""
    esp = os.path.join(tmp, "esp")
    os.makedirs(os.path.join(esp, "EFI", "BOOT"))
    if not os.path.exists(EFI):
        raise SluiceError("build/sluice.efi is missing: run make first")
    shutil.copy(EFI, os.path.join(esp, "EFI", "BOOT", "BOOTX64.EFI"))
    if cfg is not None:
        with open(os.path.join(esp, "EFI", "BOOT", "sluice.cfg"), "w") as f:
            f.write(cfg + "\n")
    for path, data in (files or {}).items():
        dst = os.path.join(esp, *path.replace("\\", "/").strip("/").split("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(data)
    vars_fd = os.path.join(tmp, "vars.fd")
    shutil.copy(OVMF_VARS, vars_fd)
    return esp, vars_fd


_live = []


def _kill_all():
    for s in list(_live):
        s.close()


atexit.register(_kill_all)


def _die_with_parent():
    """In the QEMU child: SIGKILL when the Python parent dies, even by a
    signal that skips atexit (PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except Exception:
        pass


class Sluice:
    """One QEMU running sluice, driven through its serial console.
    Every instance is killed when Python exits, however it exits."""

    def __init__(self, mem="1G", iommu="intel-iommu,intremap=on", devices=None,
                 cfg=None, extra=None, trace=None, boot_timeout=60, log=None, image=None,
                 files=None):
        """image: boot this raw disk image (e.g. build/esp.img, copied)
        instead of a FAT directory holding build/sluice.efi.
        files: {"path/on/esp": bytes} put on the ESP beside sluice.cfg."""
        self.tmp = tempfile.mkdtemp(prefix="sluice-")
        esp, vars_fd = make_esp(self.tmp, cfg, files)
        disk = None
        if image:
            disk = os.path.join(self.tmp, "disk.img")
            shutil.copy(image, disk)
        self.trace_file = os.path.join(self.tmp, "trace.log") if trace else None
        self.cmdline = qemu_cmdline(esp, vars_fd, mem, iommu, devices, extra,
                                    trace, self.trace_file, disk)
        self.buf = ""
        self.pos = 0          # parse position in buf
        self.events = []      # '! ...' lines seen
        self.lock = threading.Condition()
        self.log = log if log is not None else os.environ.get("SLUICE_LOG")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(
            self.cmdline + ["-serial", "stdio", "-monitor", "none"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.tmp, "qemu.err"), "wb"),
            preexec_fn=_die_with_parent)
        _live.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self.wait_for("sluice: ready\r?\n", boot_timeout)
            self.t_ready = time.monotonic()
            self.wait_for(re.escape(PROMPT) + "$", 10)
        except SluiceError:
            self.close()
            raise
        self.boot_seconds = self.t_ready - self.t_start

    # ------------------------------------------------------------ plumbing
    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self.lock:
                if not data:
                    self.eof = True
                    self.lock.notify_all()
                    return
                text = data.decode("latin-1")
                self.buf += text
                if self.log:
                    with open(self.log, "a") as f:
                        f.write(text)
                self.lock.notify_all()

    eof = False

    def wait_for(self, pattern, timeout):
        """Waits until pattern matches output after the parse position;
        moves the position past the match and returns the match."""
        rx = re.compile(pattern, re.M)
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                if self.eof:
                    raise SluiceError("QEMU exited (status %s) waiting for %r; tail:\n%s"
                                      % (self.proc.poll(), pattern, self.tail()))
                left = end - time.monotonic()
                if left <= 0:
                    raise SluiceError("timeout waiting for %r; tail:\n%s" % (pattern, self.tail()))
                self.lock.wait(min(left, 0.5))

    def tail(self, n=2000):
        return self.buf[-n:]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    # ------------------------------------------------------------ commands
    def cmd(self, line, timeout=60, raw=None):
        """Sends one command line; returns (records, status) where status is
        the status line ('OK' or 'ERR NAME message').  Event lines ('! ...')
        are collected in self.events (and in the result's .events)."""
        start = self.pos
        self.send((raw if raw is not None else line) + "\r")
        m = self.wait_for(r"^(OK|ERR [A-Z0-9]+(?: [^\r\n]*)?)\r?\n", timeout)
        body = self.buf[start:m.start()]
        status = m.group(1)
        p = self.wait_for(re.escape(PROMPT), 10)
        # events queued during the command come after its status line
        after = self.buf[m.end():p.start()].replace("\r", "").split("\n")
        self.events.extend(ln[2:] for ln in after if ln.startswith("! "))
        lines = body.replace("\r", "").split("\n")
        lines = lines[1:]  # the echo of the command itself
        recs = []
        for ln in lines:
            if ln.startswith("! "):
                self.events.append(ln[2:])
            elif ln.strip():
                r = parse_record(ln)
                if r is not None:
                    recs.append(r)
        self.last_lines = lines
        return recs, status

    def ok(self, line, timeout=60):
        recs, st = self.cmd(line, timeout)
        if st != "OK":
            raise SluiceError("%r failed: %s" % (line, st))
        return recs

    def err(self, line, name, timeout=60):
        recs, st = self.cmd(line, timeout)
        if not st.startswith("ERR %s" % name):
            raise SluiceError("%r: expected ERR %s, got %s" % (line, name, st))
        return st

    def one(self, line, timeout=60):
        recs = self.ok(line, timeout)
        if len(recs) != 1:
            raise SluiceError("%r: expected one record, got %r" % (line, recs))
        return recs[0]

    gpos = 0  # where wait_guest looks next (independent of the command parser)

    def mark(self):
        """A position in the output, for since= below."""
        with self.lock:
            return len(self.buf)

    def guest_lines(self, vm=None, since=0):
        """Every '[vmN] text' line printed (after since), as (N, text)."""
        with self.lock:
            buf = self.buf
        out = [(int(m.group(1)), m.group(2))
               for m in re.compile(r"^\[vm(\d+)\] ?([^\r\n]*)\r?\n", re.M).finditer(buf, since)]
        return [x for x in out if vm is None or x[0] == int(vm)]

    def wait_guest(self, vm, pattern, timeout=60, since=None):
        """Waits for a '[vm<vm>] ...' line whose text matches pattern
        (searched from since, else from the previous wait_guest's match on);
        returns the match.  Commands may run meanwhile: this keeps its own
        position."""
        if since is not None:
            self.gpos = since
        # whole lines only (\n): a line still arriving must not match
        rx = re.compile(r"^\[vm%d\] ?(?P<text>[^\r\n]*?%s[^\r\n]*)\r?\n" % (int(vm), pattern),
                        re.M)
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.buf, self.gpos)
                if m:
                    self.gpos = m.end()
                    return m
                if self.eof:
                    raise SluiceError("QEMU exited waiting for vm%s %r; tail:\n%s"
                                      % (vm, pattern, self.tail()))
                left = end - time.monotonic()
                if left <= 0:
                    raise SluiceError("timeout waiting for vm%s %r; tail:\n%s"
                                      % (vm, pattern, self.tail()))
                self.lock.wait(min(left, 0.5))

    def wait_event(self, pattern, timeout=60, since=0):
        """Waits for a '! ...' event line matching pattern in the output
        after since; returns the match."""
        rx = re.compile(r"^! (?P<text>[^\r\n]*%s[^\r\n]*)\r?\n" % pattern, re.M)
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.buf, since)
                if m:
                    return m
                if self.eof:
                    raise SluiceError("QEMU exited waiting for event %r" % pattern)
                left = end - time.monotonic()
                if left <= 0:
                    raise SluiceError("timeout waiting for event %r; tail:\n%s"
                                      % (pattern, self.tail()))
                self.lock.wait(min(left, 0.5))

    def drain_events(self, seconds=0.3):
        """Lets pending '! ' events arrive; returns the new ones."""
        time.sleep(seconds)
        with self.lock:
            chunk = self.buf[self.pos:]
        new = [ln[2:] for ln in chunk.replace("\r", "").split("\n") if ln.startswith("! ")]
        self.events.extend(new)
        return new

    def poweroff(self, timeout=20):
        self.send("poweroff\r")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise SluiceError("QEMU did not exit after poweroff; tail:\n" + self.tail())
        return self.proc.returncode

    def trace_lines(self):
        if not self.trace_file or not os.path.exists(self.trace_file):
            return []
        with open(self.trace_file, errors="replace") as f:
            return f.read().splitlines()

    def close(self):
        if self in _live:
            _live.remove(self)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main():
    args = sys.argv[1:]
    if not args or args[0] != "run":
        print(__doc__)
        return 2
    cfg = RUN_CFG
    extra = []
    rest = args[1:]
    if "--" in rest:
        i = rest.index("--")
        extra = rest[i + 1:]
        rest = rest[:i]
    if len(rest) >= 2 and rest[0] == "--cfg":
        cfg = rest[1]
    tmp = tempfile.mkdtemp(prefix="sluice-run-")
    try:
        esp, vars_fd = make_esp(tmp, cfg)
        cmd = qemu_cmdline(esp, vars_fd, extra=extra) + ["-nographic"]
        print("sluice: starting QEMU (TCG, q35, OVMF, intel-iommu, edu); Ctrl-A X quits",
              flush=True)
        return subprocess.call(cmd)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
