"""tests/qemu/test_vtd.py — VT-d DMA remapping proven by edu DMA, default
QEMU intel-iommu (39-bit, 3 levels, caching mode off).  -m 4G so that a
naturally aligned 1 GiB block is free for the 1 GiB-leaf check."""
import vtd_checks as v
from sluice_qemu import EDU

BOOT = dict(mem="4G", devices=EDU)


def test_unit(s):
    v.check_unit(s)


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
