"""tests/qemu/test_quiesce.py — a group that leaves its address space is
quiesced (docs/dma.md "Quiesce on detach").  edu (00:03.0, conventional PCI,
no PCIe or AF capability, so no FLR) has Bus Master off in its command
register right after `as detach` and `as destroy`, and DMAs again through the
next space (the edu command turns Bus Master back on).  QEMU 7.2's nvme
(00:05.0) offers FLR (DEVCAP bit 28): its detach resets it — the cache line
size written before is back to 0 — while its BAR0 and Memory Space decoding
are restored and Bus Master stays off."""
import vtd_checks as v

EDU_BDF, NVME = "00:03.0", "00:05.0"
BOOT = dict(cfg="allow_unsafe_interrupts", mem="1G", devices=[
    "-device", "edu,addr=03.0,dma_mask=0xffffffffffffffff",
    "-device", "nvme,addr=05.0,serial=sluice1",
])
MASTER, MEMORY = 0x4, 0x2


def cmd_reg(s, bdf):
    return int(s.one("pci read %s 4 2" % bdf)["value"], 16)


def edu_dma_ok(s, asid, hpa):
    s.ok("mem fill 0x%x %d %d" % (hpa, v.PAGE, 0x3C))
    rec = s.one("edu %s read 0x300000 256" % EDU_BDF)
    assert (rec["status"], rec["crc32"]) == ("ok", v.crc(b"\x3c" * 256)), rec


def test_edu_bus_master_off_after_detach_and_destroy(s):
    hpa = int(s.one("mem alloc %d" % v.PAGE)["hpa"], 16)
    spaces = []
    try:
        a = s.one("as create")["as"]
        spaces.append(a)
        s.ok("as attach %s %s" % (a, EDU_BDF))
        s.ok("dma map %s 0x300000 %d hpa:0x%x rw" % (a, v.PAGE, hpa))
        edu_dma_ok(s, a, hpa)
        assert cmd_reg(s, EDU_BDF) & MASTER
        s.ok("as detach %s %s" % (a, EDU_BDF))
        c = cmd_reg(s, EDU_BDF)
        assert not c & MASTER, "Bus Master on after detach: " + hex(c)
        assert c & MEMORY, hex(c)
        # re-attached to another space: edu turns Bus Master on and DMAs
        b = s.one("as create")["as"]
        spaces.append(b)
        s.ok("as attach %s %s" % (b, EDU_BDF))
        s.ok("dma map %s 0x300000 %d hpa:0x%x rw" % (b, v.PAGE, hpa))
        edu_dma_ok(s, b, hpa)
        assert cmd_reg(s, EDU_BDF) & MASTER
        spaces.remove(b)
        s.ok("as destroy %s" % b)
        assert not cmd_reg(s, EDU_BDF) & MASTER, "Bus Master on after destroy"
    finally:
        for x in spaces:
            s.ok("as destroy %s" % x)
        s.ok("mem free 0x%x %d" % (hpa, v.PAGE))


def test_nvme_flr_on_detach(s):
    nv = [r for r in s.ok("lspci") if r["bdf"] == NVME]
    assert nv and "pcie" in nv[0]["caps"], nv
    bar0 = s.one("pci read %s 0x10 4" % NVME)["value"]
    a = s.one("as create")["as"]
    s.ok("as attach %s %s" % (a, NVME))
    s.ok("pci write %s 0x0c 1 0x10" % NVME)      # cache line size: FLR clears it
    s.ok("pci write %s 4 2 0x%x" % (NVME, MEMORY | MASTER))
    assert int(s.one("pci read %s 0x0c 1" % NVME)["value"], 16) == 0x10
    s.events.clear()
    s.ok("as detach %s %s" % (a, NVME))
    assert int(s.one("pci read %s 0x0c 1" % NVME)["value"], 16) == 0, "no FLR"
    assert s.one("pci read %s 0x10 4" % NVME)["value"] == bar0  # restored
    c = cmd_reg(s, NVME)
    assert c & MEMORY and not c & MASTER, hex(c)
    assert any("%s quiesced: bus master off, function level reset" % NVME in e
               for e in s.events + s.drain_events()), s.events
    # quiet: it joins another space at once
    b = s.one("as create")["as"]
    s.ok("as attach %s %s" % (b, NVME))
    s.ok("as destroy %s" % b)
    s.ok("as destroy %s" % a)
