"""tests/qemu/test_groups_switch.py — a PCIe switch (x3130-upstream with two
xio3130-downstream ports) on a pcie-root-port, an edu below each downstream
port.  In QEMU 7.2 the root port has an ACS capability (pcie_acs_init) and
the xio3130 downstream ports have none: sluice turns the root port's ACS on,
so nothing leaves its subtree without passing the IOMMU, but the switch may
route one edu's requests straight to the other.  So: the two edus and both
downstream ports are one group; the upstream port and the root port are not
in it.  DMA through the shared space works from either edu."""
import vtd_checks as v

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="1G", devices=[
    "-device", "pcie-root-port,id=rp,chassis=1,slot=1,addr=0x6",
    "-device", "x3130-upstream,id=up,bus=rp",
    "-device", "xio3130-downstream,id=dn1,bus=up,chassis=2,slot=1",
    "-device", "xio3130-downstream,id=dn2,bus=up,chassis=3,slot=2",
    "-device", "edu,bus=dn1,dma_mask=0xffffffffffffffff",
    "-device", "edu,bus=dn2,dma_mask=0xffffffffffffffff",
])

RP, UP = "1b36:000c", "104c:8232"
DN, EDU = "104c:8233", "1234:11e8"
ACS_SV, ACS_RR, ACS_CR, ACS_UF = 0x1, 0x4, 0x8, 0x10
ACS_REQ = ACS_SV | ACS_RR | ACS_CR | ACS_UF


def by_id(s, vid):
    return [r for r in s.ok("lspci") if r["id"] == vid]


def rd(s, bdf, off, size):
    return int(s.one("pci read %s 0x%x %d" % (bdf, off, size))["value"], 16)


def acs_offset(s, bdf):
    """the ACS extended capability (ID 0x000d), walked from 0x100"""
    pos = 0x100
    for _ in range(64):
        hdr = rd(s, bdf, pos, 4)
        if hdr in (0, 0xffffffff):
            return None
        if hdr & 0xffff == 0x000d:
            return pos
        pos = (hdr >> 20) & 0xffc
        if pos < 0x100:
            return None
    return None


def test_topology_and_acs_caps(s):
    rp, up, dn, e = by_id(s, RP), by_id(s, UP), by_id(s, DN), by_id(s, EDU)
    assert len(rp) == 1 and len(up) == 1 and len(dn) == 2 and len(e) == 2, s.ok("lspci")
    # what QEMU 7.2 gives: ACS on the root port, none on the switch ports
    assert "acs" in rp[0]["caps"].split(","), rp
    assert all("acs" not in r["caps"].split(",") for r in up + dn), up + dn


def test_root_port_acs_enabled(s):
    bdf = by_id(s, RP)[0]["bdf"]
    pos = acs_offset(s, bdf)
    assert pos is not None
    cap, ctrl = rd(s, bdf, pos + 4, 2), rd(s, bdf, pos + 6, 2)
    want = cap & ACS_REQ
    assert want == ACS_REQ, hex(cap)  # QEMU's root port implements all four
    assert ctrl & ACS_REQ == want, (hex(cap), hex(ctrl))
    assert ctrl & ~ACS_REQ == 0, hex(ctrl)  # nothing else (TB, EC) turned on


def test_switch_endpoints_share_group(s):
    e, dn = by_id(s, EDU), by_id(s, DN)
    g = e[0]["group"]
    assert e[1]["group"] == g, e
    members = sorted(r["bdf"] for r in s.ok("lspci") if r["group"] == g)
    assert members == sorted(r["bdf"] for r in e + dn), members
    # the root port's ACS holds: the switch's upstream port and the root
    # port stay outside
    assert by_id(s, UP)[0]["group"] != g and by_id(s, RP)[0]["group"] != g


def test_group_attach_and_dma(s):
    e = by_id(s, EDU)
    r = v.Rig(s, edu_index=0)
    try:
        devs = [x for x in s.ok("as list") if x["as"] == r.asid][0]["devices"].split(",")
        assert {x["bdf"] for x in e} <= set(devs), devs
        a = r.alloc(v.PAGE)
        r.fill(a, v.PAGE, 0x4D)
        r.map(0x500000, v.PAGE, a)
        assert r.read(0x500000, 256) == ("ok", v.crc(b"\x4d" * 256))
        rec = s.one("edu %s read 0x500000 256" % e[1]["bdf"])
        assert (rec["status"], rec["crc32"]) == ("ok", v.crc(b"\x4d" * 256)), rec
        rec = s.one("edu %s write 0x500100 64 %d" % (e[1]["bdf"], 0x5E))
        assert rec["status"] == "ok", rec
        assert r.mcrc(a + 0x100, 64) == v.crc(b"\x5e" * 64)
    finally:
        r.close()
