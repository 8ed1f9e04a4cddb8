"""tests/qemu/test_vtd_aw48.py — the same proofs with aw-bits=48 (4-level
tables)."""
import vtd_checks as v
from sluice_qemu import EDU

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="4G", devices=EDU, iommu="intel-iommu,intremap=on,aw-bits=48")


globals().update(v.standard_tests(unit=dict(aw="48", levels="4")))


def test_high_iova(s):
    """an IOVA above 2^39 works only with 48-bit tables"""
    r = v.Rig(s)
    try:
        a = r.alloc(v.PAGE)
        r.fill(a, v.PAGE, 0x61)
        iova = 0x7F0000000000
        r.map(iova, v.PAGE, a)
        assert r.read(iova, 64) == ("ok", v.crc(b"\x61" * 64))
        assert r.write(iova + 64, 64, 0x62) == "ok"
        assert r.mcrc(a + 64, 64) == v.crc(b"\x62" * 64)
    finally:
        r.close()
