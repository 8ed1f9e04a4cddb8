"""tests/qemu/test_fault_storm.py — a device that faults in a storm has its
Bus Master cut and is reported; the console keeps working.  edu can raise
at most a few faults a second (its DMA engine starts 100 ms after each
command), so this boot lowers the storm policy: 4 decayed faults with a
5 s half-life (the default is 16 with 10 ms)."""
from sluice_qemu import EDU

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(mem="512M", devices=EDU,
            cfg="allow_unsafe_interrupts fault_storm_threshold=4 fault_storm_halflife_ms=5000")


def test_storm_cuts_bus_master(s):
    bdf = [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]
    a = s.one("as create")["as"]
    s.ok("as attach %s %s" % (a, bdf))
    s.ok("iommu faults clear")
    for i in range(4):
        assert s.one("edu %s write 0x%x 64 7" % (bdf, 0x10000 * (i + 1)))["status"] == "fault"
    s.drain_events(0.5)
    s.ok("version")
    storms = [e for e in s.events if e.startswith("fault-storm")]
    assert storms and ("bdf=%s" % bdf) in storms[0] and "action=bus-master-off" in storms[0], s.events
    cmd = int(s.one("pci read %s 4 2" % bdf)["value"], 16)
    assert not (cmd & 0x4), hex(cmd)
    faults = [r for r in s.ok("iommu faults") if "kind" in r]
    assert len(faults) == 4 and all(f["access"] == "w" for f in faults), faults
    # sluice is fine: the device is quiet, memory accounting unchanged
    assert s.one("mem")["pinned"] == "0"
    s.ok("as destroy %s" % a)
