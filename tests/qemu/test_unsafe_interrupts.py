"""tests/qemu/test_unsafe_interrupts.py — a device whose interrupts are not
isolated cannot be attached (EPERM) unless the boot argument
allow_unsafe_interrupts is given: with intremap=off they are not remapped,
and with intremap=on QEMU 7.2 still passes compatibility-format interrupts
through (no GCMD.CFI), so the unit remaps but does not isolate them."""
from sluice_qemu import EDU, Sluice

BOOT = None  # boots of its own


def edu(s):
    return [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]


def test_refused_without_ir(_):
    with Sluice(mem="512M", devices=EDU, iommu="intel-iommu,intremap=off") as s:
        u = s.one("iommu")
        assert u["ir"] == "off" and u["cfi"] == "open", u
        a = s.one("as create")["as"]
        st = s.err("as attach %s %s" % (a, edu(s)), "EPERM")
        assert "allow_unsafe_interrupts" in st


def test_refused_where_compatibility_format_is_open(_):
    with Sluice(mem="512M", devices=EDU) as s:
        u = s.one("iommu")
        assert u["ir"] == "on" and u["cfi"] == "open", u
        bdf = edu(s)
        a = s.one("as create")["as"]
        st = s.err("as attach %s %s" % (a, bdf), "EPERM")
        assert "compatibility-format interrupts cannot be blocked on IOMMU unit 0" in st, st
        assert "allow_unsafe_interrupts" in st, st
        sp = [x for x in s.ok("as list") if x.get("as") == a]
        assert sp and sp[0]["devices"] == "-", sp
        # interrupts are still routed through IRTEs; the refusal is about the bypass
        assert s.one("edu %s irq" % bdf)["irte"] != "-"
        assert s.one("edu %s irq compat" % bdf)["delivered"] == "1"
        # nor can it be passed through to a guest
        vm = s.one("vm create mem=8M guest=hello")["vm"]
        st = s.err("vm assign %s %s" % (vm, bdf), "EPERM")
        assert "allow_unsafe_interrupts" in st, st
        assert [r for r in s.ok("vm list") if r["vm"] == vm][0]["devices"] == "-"
        s.ok("vm destroy %s" % vm)


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
