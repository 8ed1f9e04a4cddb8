"""tests/qemu/test_vtd.py — VT-d DMA remapping proven by edu DMA, default
QEMU intel-iommu (39-bit, 3 levels, caching mode off).  -m 4G so that a
naturally aligned 1 GiB block is free for the 1 GiB-leaf check."""
import vtd_checks as v
from sluice_qemu import EDU

BOOT = dict(mem="4G", devices=EDU)

globals().update(v.standard_tests())
