"""tests/qemu/test_vtd_pcie_bridge.py — two edu devices behind a
PCIe-to-PCI bridge (QEMU pcie-pci-bridge on a root port): their DMA
carries the alias (secondary bus, 0, 0), one group, and the proofs hold
through the alias's context entry; faults name the alias."""
import vtd_checks as v

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="1G", devices=[
    "-device", "pcie-root-port,id=rp1,chassis=1,slot=1,addr=0x6",
    "-device", "pcie-pci-bridge,id=pb,bus=rp1",
    "-device", "edu,bus=pb,addr=0x1,dma_mask=0xffffffffffffffff",
    "-device", "edu,bus=pb,addr=0x2,dma_mask=0xffffffffffffffff",
])


def test_alias_and_group(s):
    recs = s.ok("lspci")
    edus = [r for r in recs if r["id"] == "1234:11e8"]
    assert len(edus) == 2 and edus[0]["group"] == edus[1]["group"], edus
    bus = edus[0]["bdf"].split(":")[0]
    assert edus[0]["alias"] == "%s:00.0" % bus == edus[1]["alias"], edus


_std = v.standard_tests(with_1g=False)
for _name in ("test_round_trip", "test_unmapped_iova_faults", "test_unmap_invalidates_iotlb",
              "test_detach_blocks_and_replay"):
    globals()[_name] = _std[_name]


def test_second_function(s):
    r = v.Rig(s, edu_index=1)
    try:
        a = r.alloc(v.PAGE)
        r.fill(a, v.PAGE, 0x3D)
        r.map(0x700000, v.PAGE, a)
        assert r.read(0x700000, 128) == ("ok", v.crc(b"\x3d" * 128))
    finally:
        r.close()


def test_msi_through_alias_irte(s):
    """an MSI from behind the bridge arrives with the bridge's requester ID
    range: the IRTE uses SVT=2 (bus range) and the interrupt is delivered"""
    bdf = [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]
    r = s.one("edu %s irq" % bdf)
    assert r["delivered"] == "1", r
    src = [x for x in s.ok("irq") if x.get("bdf") == bdf][0]
    assert src["svt"] == "2", src
