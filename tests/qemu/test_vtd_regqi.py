"""tests/qemu/test_vtd_regqi.py — register-based invalidation (the path for
units without queued invalidation), forced with the boot argument
vtd_no_qi.  Interrupt remapping needs QI, so it stays off and attaching
needs allow_unsafe_interrupts.  The stale-IOTLB checks prove that the
register-based IOTLB invalidation really happens."""
import vtd_checks as v
from sluice_qemu import EDU

BOOT = dict(mem="1G", devices=EDU, cfg="vtd_no_qi allow_unsafe_interrupts")


def test_unit_without_qi(s):
    u = s.one("iommu")
    assert u["qi"] == "off" and u["dmar"] == "on" and u["ir"] == "off", u


_std = v.standard_tests(with_1g=False)
for _name in ("test_round_trip", "test_unmap_invalidates_iotlb", "test_superpages_and_split"):
    globals()[_name] = _std[_name]
