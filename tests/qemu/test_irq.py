"""tests/qemu/test_irq.py — interrupt remapping proven with real interrupts:
edu's MSI arrives through a named IRTE, retargeting the IRTE changes the
vector that arrives, a not-present IRTE or a source-id mismatch drops the
interrupt, and the serial port's receive interrupt arrives through a
remapped IOAPIC entry.  And the hole that makes allow_unsafe_interrupts
necessary under QEMU 7.2: an attached edu whose MSI is rewritten to
compatibility format reaches a vector no IRTE routes."""
from sluice_qemu import EDU

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="1G", devices=EDU)


def edu(s):
    return [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]


def source(s, kind):
    return [r for r in s.ok("irq") if r.get("kind") == kind]


def test_ir_on(s):
    assert s.one("iommu")["ir"] == "on"


def test_edu_msi_through_irte(s):
    bdf = edu(s)
    r = s.one("edu %s irq" % bdf)
    assert r["delivered"] == "1" and r["irte"] != "-", r
    src = [x for x in source(s, "msi") if x["bdf"] == bdf][0]
    assert src["irte"] == r["irte"] and src["vector"] == r["vector"], (src, r)
    assert src["svt"] == "1" and int(src["sid"], 16) == 0x10, src  # 00:02.0
    n0 = int(src["count"])
    for _ in range(3):
        assert s.one("edu %s irq" % bdf)["delivered"] == "1"
    n1 = int([x for x in source(s, "msi") if x["bdf"] == bdf][0]["count"])
    assert n1 == n0 + 3, (n0, n1)


def test_retarget_changes_vector(s):
    bdf = edu(s)
    r0 = s.one("edu %s irq" % bdf)
    rt = s.one("irq retarget %s" % r0["irte"])
    assert rt["old"] == r0["vector"] and rt["vector"] != r0["vector"], rt
    r1 = s.one("edu %s irq" % bdf)
    assert r1["delivered"] == "1" and r1["vector"] == rt["vector"] and r1["irte"] == r0["irte"], r1
    src = [x for x in source(s, "msi") if x["bdf"] == bdf][0]
    assert src["vector"] == rt["vector"] and int(src["count"]) == 1, src


def test_not_present_drops(s):
    bdf = edu(s)
    irte = s.one("edu %s irq" % bdf)["irte"]
    count = lambda: int([x for x in source(s, "msi") if x["bdf"] == bdf][0]["count"])
    n0 = count()
    assert s.one("irq mask %s" % irte)["present"] == "0"
    r = s.one("edu %s irq" % bdf)
    assert r["delivered"] == "0", r
    assert count() == n0
    s.ok("irq unmask %s" % irte)
    assert s.one("edu %s irq" % bdf)["delivered"] == "1"
    assert count() == n0 + 1


def test_source_id_mismatch_drops(s):
    bdf = edu(s)
    irte = s.one("edu %s irq" % bdf)["irte"]
    count = lambda: int([x for x in source(s, "msi") if x["bdf"] == bdf][0]["count"])
    n0 = count()
    # the IRTE now only accepts interrupts from another requester (the VGA)
    assert s.one("irq sid %s 00:01.0" % irte)["sid"] == "0x0008"
    assert s.one("edu %s irq" % bdf)["delivered"] == "0"
    assert count() == n0
    s.ok("irq sid %s %s" % (irte, bdf))
    assert s.one("edu %s irq" % bdf)["delivered"] == "1"
    assert count() == n0 + 1


def test_serial_rx_through_remapped_ioapic(s):
    src = source(s, "ioapic")
    assert len(src) == 1 and src[0]["gsi"] == "4", src
    n0 = int(src[0]["count"])
    s.ok("version")
    n1 = int(source(s, "ioapic")[0]["count"])
    assert n1 > n0, (n0, n1)
    # with the IRTE not present, typing raises no interrupt
    irte = src[0]["irte"]
    s.ok("irq mask %s" % irte)
    n2 = int(source(s, "ioapic")[0]["count"])
    s.ok("version")
    s.ok("version")
    n3 = int(source(s, "ioapic")[0]["count"])
    assert n3 == n2, (n2, n3)
    s.ok("irq unmask %s" % irte)
    s.ok("version")
    assert int(source(s, "ioapic")[0]["count"]) > n3


def test_irq_errors(s):
    s.err("irq retarget 4000", "ENOENT")
    s.err("irq mask zz", "EINVAL")
    s.err("irq sid 0 nonsense", "EINVAL")
    s.err("irq retarget", "EINVAL")


def test_detach_frees_irte(s):
    """when edu's group leaves its address space the IRTE sluice routed
    for it is freed (left not present): the source disappears, and the
    next interrupt is routed afresh through a valid IRTE"""
    bdf = edu(s)
    a = s.one("as create")["as"]
    s.ok("as attach %s %s" % (a, bdf))
    irte = s.one("edu %s irq" % bdf)["irte"]
    assert [x for x in source(s, "msi") if x["bdf"] == bdf]
    s.ok("as detach %s %s" % (a, bdf))
    assert not [x for x in source(s, "msi") if x["bdf"] == bdf], s.ok("irq")
    s.err("irq mask %s" % irte, "ENOENT")
    r = s.one("edu %s irq" % bdf)
    assert r["delivered"] == "1" and r["irte"] != "-", r
    s.ok("as attach %s %s" % (a, bdf))
    s.ok("as destroy %s" % a)
    assert not [x for x in source(s, "msi") if x["bdf"] == bdf]


def test_compat_format_bypasses_remapping(s):
    """QEMU 7.2's VT-d passes compatibility-format MSIs through with IR on
    (it has no GCMD.CFI): the device delivers a vector sluice never routed"""
    bdf = edu(s)
    assert s.one("iommu")["cfi"] == "open"
    a = s.one("as create")["as"]
    s.ok("as attach %s %s" % (a, bdf))
    assert s.one("edu %s irq" % bdf)["irte"] != "-"
    r = s.one("edu %s irq compat" % bdf)
    assert r["delivered"] == "1" and r["irte"] == "-", r
    assert int(r["addr"], 16) & 0xfff00010 == 0xfee00000, r  # bit 4 = 0: compatibility
    assert int(r["data"], 16) & 0xff == int(r["vector"]), r
    assert r["vector"] not in {x["vector"] for x in s.ok("irq")}, r
    # the device's own message is back: its MSI goes through its IRTE again
    r2 = s.one("edu %s irq" % bdf)
    assert r2["delivered"] == "1" and r2["irte"] != "-", r2
    s.ok("as destroy %s" % a)
