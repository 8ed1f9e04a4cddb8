"""tests/qemu/test_panic.py — a CPU exception prints a register dump on the
console and stops sluice cleanly (no reboot loop, no garbage)."""
import re

from sluice_qemu import EDU, Sluice

BOOT = None


def crash(kind, vector, name):
    with Sluice(mem="512M", devices=EDU) as s:
        s.err("cpu crash xx", "EINVAL")
        s.send("cpu crash %s\r" % kind)
        m = s.wait_for(r"! panic exception vector=(\d+) name=\"([^\"]+)\" error=(0x[0-9a-f]+)", 20)
        assert m.group(1) == str(vector), m.group(0)
        assert name in m.group(2), m.group(0)
        s.wait_for(r"rip=0x[0-9a-f]{16} cs=0x8 ", 5)
        s.wait_for(r"rax=0x[0-9a-f]{16} rbx=", 5)
        s.wait_for(r"r13=0x[0-9a-f]{16}", 5)
        s.wait_for(r"cr0=0x[0-9a-f]+ cr2=0x[0-9a-f]{16}", 5)
        s.wait_for(r"backtrace:( 0x[0-9a-f]+)+", 5)
        s.wait_for(r"! halted", 5)
        # stopped: QEMU still runs (no triple-fault reset), nothing answers
        s.send("version\r")
        try:
            s.wait_for(r"name=sluice", 2)
            raise AssertionError("sluice answered after a panic")
        except Exception as e:
            if isinstance(e, AssertionError):
                raise
        assert s.proc.poll() is None
        return s.buf


def test_invalid_opcode(_):
    crash("ud", 6, "#UD")


def test_page_fault(_):
    buf = crash("pf", 14, "#PF")
    assert re.search(r"error=0x2\b", buf)  # write to a not-present page


def test_general_protection(_):
    crash("gp", 13, "#GP")
