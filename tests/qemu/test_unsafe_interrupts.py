"""tests/qemu/test_unsafe_interrupts.py — a device whose interrupts are not
remapped (intremap=off) cannot be attached (EPERM) unless the boot argument
allow_unsafe_interrupts is given."""
from sluice_qemu import EDU, Sluice

BOOT = None  # two boots of its own


def edu(s):
    return [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]


def test_refused_without_ir(_):
    with Sluice(mem="512M", devices=EDU, iommu="intel-iommu,intremap=off") as s:
        assert s.one("iommu")["ir"] == "off"
        a = s.one("as create")["as"]
        st = s.err("as attach %s %s" % (a, edu(s)), "EPERM")
        assert "allow_unsafe_interrupts" in st


def test_allowed_with_boot_argument(_):
    with Sluice(mem="512M", devices=EDU, iommu="intel-iommu,intremap=off",
                cfg="allow_unsafe_interrupts") as s:
        a = s.one("as create")["as"]
        s.ok("as attach %s %s" % (a, edu(s)))
        m = s.one("mem alloc 4K")
        s.ok("mem fill %s 4096 0x15" % m["hpa"])
        s.ok("dma map %s 0x1000 4096 hpa:%s" % (a, m["hpa"]))
        import zlib
        rec = s.one("edu %s read 0x1000 64" % edu(s))
        assert rec == {"status": "ok", "crc32": "0x%08x" % zlib.crc32(b"\x15" * 64)}, rec
