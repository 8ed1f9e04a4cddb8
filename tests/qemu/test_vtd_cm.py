"""tests/qemu/test_vtd_cm.py — the same proofs with caching-mode=on (CAP.CM:
non-present entries may be cached, so maps need invalidations too)."""
import vtd_checks as v
from sluice_qemu import EDU

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="4G", devices=EDU, iommu="intel-iommu,intremap=on,caching-mode=on")

globals().update(v.standard_tests(unit=dict(cm="1")))
