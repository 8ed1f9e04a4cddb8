"""tests/qemu/test_vtd_cm.py — the same proofs with caching-mode=on (CAP.CM:
non-present entries may be cached, so maps need invalidations too)."""
import vtd_checks as v
from sluice_qemu import EDU

BOOT = dict(mem="4G", devices=EDU, iommu="intel-iommu,intremap=on,caching-mode=on")


def test_unit(s):
    v.check_unit(s, cm="1")


def test_round_trip(s):
    v.check_round_trip(s)


def test_unmapped_iova_faults(s):
    v.check_unmapped_faults(s)


def test_unmap_invalidates_iotlb(s):
    v.check_unmap_invalidates(s)


def test_read_only_mapping(s):
    v.check_read_only(s)


def test_superpages_and_split(s):
    v.check_superpages(s)


def test_detach_blocks_and_replay(s):
    v.check_detach_blocks(s)
