"""tests/qemu/test_vtd_bridge.py — two edu devices behind a conventional
pci-bridge: one group, DMA arrives with the bridge's requester ID (the
alias), so the whole group is attached and faults name the alias."""
import vtd_checks as v

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="4G", devices=[
    "-device", "pci-bridge,id=br0,chassis_nr=1,addr=0x5",
    "-device", "edu,bus=br0,addr=0x1,dma_mask=0xffffffffffffffff",
    "-device", "edu,bus=br0,addr=0x2,dma_mask=0xffffffffffffffff",
])


def test_group_follows(s):
    edus = [r for r in s.ok("lspci") if r["id"] == "1234:11e8"]
    asid = s.one("as create")["as"]
    s.ok("as attach %s %s" % (asid, edus[0]["bdf"]))
    devs = [r for r in s.ok("as list") if r["as"] == asid][0]["devices"].split(",")
    assert set(e["bdf"] for e in edus) <= set(devs), devs
    other = s.one("as create")["as"]
    s.err("as attach %s %s" % (other, edus[1]["bdf"]), "EBUSY")
    s.ok("as destroy %s" % other)
    s.ok("as destroy %s" % asid)


_std = v.standard_tests(with_1g=False)
for _name in ("test_round_trip", "test_unmapped_iova_faults", "test_unmap_invalidates_iotlb",
              "test_superpages_and_split", "test_detach_blocks_and_replay"):
    globals()[_name] = _std[_name]


def test_second_edu_same_space(s):
    """the second function of the group DMAs through the same domain"""
    r = v.Rig(s, edu_index=1)
    try:
        a = r.alloc(v.PAGE)
        r.fill(a, v.PAGE, 0x2B)
        r.map(0x600000, v.PAGE, a)
        assert r.read(0x600000, 256) == ("ok", v.crc(b"\x2b" * 256))
    finally:
        r.close()
