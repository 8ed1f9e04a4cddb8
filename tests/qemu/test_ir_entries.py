"""tests/qemu/test_ir_entries.py — the boot argument ir_entries reaches the
VT-d driver: bring-up (kernel/platform.c) parses it once and passes it in the
interrupt-remapping configuration; the driver rounds it to a power of two,
says so, sizes the table by it, and interrupts are routed through it."""
import re

from sluice_qemu import EDU

BOOT = dict(mem="512M", devices=EDU, cfg="ir_entries=300")


def test_rounded_and_logged(s):
    assert "vtd0: ir_entries=300 adjusted to 512" in s.buf, s.buf[:4000]
    assert re.search(r"vtd0: interrupt remapping on: entries=512 ", s.buf), s.buf[:4000]


def test_msi_through_the_table(s):
    bdf = [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]
    r = s.one("edu %s irq" % bdf)
    assert r["delivered"] == "1" and r["irte"] != "-", r
    assert int(r["irte"]) < 512, r
