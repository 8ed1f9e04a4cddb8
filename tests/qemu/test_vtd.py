"""tests/qemu/test_vtd.py — VT-d DMA remapping proven by edu DMA, default
QEMU intel-iommu (39-bit, 3 levels, caching mode off).  -m 4G so that a
naturally aligned 1 GiB block is free for the 1 GiB-leaf check."""
import vtd_checks as v
from sluice_qemu import EDU

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="4G", devices=EDU)

globals().update(v.standard_tests())


def test_qi_error_recovery(s):
    """a descriptor with reserved bits makes QEMU's unit stop the queue with
    FSTS.IQE; the driver reports EIO, replaces it, and the queue works:
    the stale-IOTLB proof passes right after"""
    for _ in range(2):
        r = s.one("iommu qitest")
        assert r["bad_batch"] == "EIO" and r["qi_errors"] == "1" and r["next_batch"] == "ok", r
    v.check_unmap_invalidates(s)
