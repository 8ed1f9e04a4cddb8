"""tests/qemu/test_boot_bm.py — the boot window: the loader clears Bus
Master on every PCI function the firmware enumerated, bridges included,
right after disconnecting the firmware drivers, so nothing masters while
the kernel reuses boot-services memory; the kernel's own pass (its second
line of defence) then finds nothing left to stop."""
import re

BOOT = dict(mem="1G", devices=[
    "-device", "pci-bridge,id=br0,chassis_nr=1,addr=0x5",
    "-device", "edu,bus=br0,addr=0x1,dma_mask=0xffffffffffffffff",
    "-device", "edu,addr=0x6,dma_mask=0xffffffffffffffff",
])


def test_loader_cleared_bus_master(s):
    rec = s.ok("boot")[0]
    assert int(rec["bm_cleared"]) > 0, rec  # OVMF leaves BM on bridges at least
    assert rec["unisolated_units"] == "0", rec  # the unit came up
    m = re.search(r"pci: \d+ functions, \d+ groups, bus master cleared on (\d+)", s.buf)
    assert m and int(m.group(1)) == 0, m and m.group(0)


def test_no_function_masters_at_the_prompt(s):
    funcs = s.ok("lspci")
    assert any(f["id"] == "1234:11e8" for f in funcs)
    bridges = 0
    for f in funcs:
        cmd = int(s.one("pci read %s 4 2" % f["bdf"])["value"], 16)
        assert not cmd & 0x4, (f, hex(cmd))
        hdr = int(s.one("pci read %s 0xe 1" % f["bdf"])["value"], 16)
        bridges += (hdr & 0x7f) == 1
    assert bridges >= 1  # the pci-bridge was checked too
