"""tests/qemu/test_dma_rules.py — the memory manager's rules on the real VT-d
driver, with edu DMA proving what is and is not reachable: map/unmap errors,
unmap never bisects, mappings survive detach, pinning blocks mem free,
pre-registration, pin limits, shared owners, hint/unhint."""
import vtd_checks as v
from sluice_qemu import EDU

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="1G", devices=EDU)
P = v.PAGE


def test_map_errors(s):
    r = v.Rig(s)
    try:
        a = r.alloc(4 * P)
        asid = r.asid
        s.err("dma map %s 0x1001 4096 hpa:0x%x" % (asid, a), "EINVAL")        # iova unaligned
        s.err("dma map %s 0x1000 100 hpa:0x%x" % (asid, a), "EINVAL")         # size unaligned
        s.err("dma map %s 0x1000 0 hpa:0x%x" % (asid, a), "EINVAL")           # size zero
        s.err("dma map %s 0x1000 4096 hpa:0x%x" % (asid, a + 1), "EINVAL")    # hpa unaligned
        s.err("dma map %s 0xfffffffffffff000 8192 alloc" % asid, "EOVERFLOW")  # wraps
        s.err("dma map %s 0x8000000000 4096 alloc" % asid, "EINVAL")          # beyond 39 bits
        s.err("dma map %s 0x7ffffff000 8192 alloc" % asid, "EINVAL")          # crosses the top
        s.err("dma map %s 0xfee00000 4096 alloc" % asid, "EINVAL")            # MSI window
        s.err("dma map %s 0xfed00000 0x200000 alloc" % asid, "EINVAL")       # overlaps it
        s.err("dma map %s 0x1000 4096 hpa:0x%x x" % (asid, a), "EINVAL")      # bad prot
        s.err("dma map %s 0x1000 4096 bogus" % asid, "EINVAL")                # bad source
        s.err("dma map 99 0x1000 4096 alloc", "ENOENT")                       # no such space
        # the last page below the top of the 39-bit aperture is fine
        r.map(0x7ffffff000, P)
        assert r.write(0x7ffffff000, 16, 0x21) == "ok"
        # a device can never be pointed at the hypervisor: its own text,
        # memory never handed out, the IOMMU's own tables
        text = s.one("cpu selftest")["text"].split("-")[0]
        s.err("dma map %s 0x1000 4096 hpa:%s" % (asid, text), "EPERM")
        s.err("dma map %s 0x1000 4096 hpa:0x100000" % asid, "EPERM")
        s.err("dma map %s 0x1000 4096 hpa:0xfed90000" % asid, "EPERM")
        assert r.translate(0x1000) is None
    finally:
        r.close()


def test_overlaps_are_eexist(s):
    r = v.Rig(s)
    try:
        r.map(0x10000, 4 * P)  # [0x10000, 0x14000)
        for iova, size in [(0x10000, 4 * P), (0xF000, 2 * P), (0x13000, 2 * P),
                           (0xF000, 6 * P), (0x11000, P)]:
            s.err("dma map %s 0x%x %d alloc" % (r.asid, iova, size), "EEXIST")
        assert len(s.ok("dma list %s" % r.asid)) == 1
        r.map(0xF000, P)
        r.map(0x14000, P)  # adjacent is fine
    finally:
        r.close()


def test_unmap_rules(s):
    r = v.Rig(s)
    try:
        a = r.alloc(4 * P)
        r.fill(a, 4 * P, 0x4D)
        r.map(0x20000, 2 * P, a)
        r.map(0x22000, 2 * P, a + 2 * P)
        # bisecting a mapping fails and changes nothing: DMA still works
        s.err("dma unmap %s 0x21000 4096" % r.asid, "EINVAL")
        s.err("dma unmap %s 0x20000 0x3000" % r.asid, "EINVAL")
        assert r.read(0x21000, 64) == ("ok", v.crc(b"\x4d" * 64))
        # an empty range is fine and unmaps nothing
        assert r.unmap(0x80000, 16 * P) == 0
        # a union of whole mappings reports the bytes actually unmapped
        assert r.unmap(0x1F000, 8 * P) == 4 * P
        assert r.read(0x21000, 64)[0] == "fault"
        assert r.read(0x23000, 64)[0] == "fault"
        r.map(0x30000, P, a)
        r.map(0x40000, P, a + P)
        assert int(s.one("dma unmap %s all" % r.asid)["unmapped"]) == 2 * P
        assert int(s.one("dma unmap %s all" % r.asid)["unmapped"]) == 0
        assert s.ok("dma list %s" % r.asid) == []
    finally:
        r.close()


def test_pinned_memory_cannot_be_freed(s):
    r = v.Rig(s)
    try:
        rec = s.one("mem alloc 8K")
        hpa = int(rec["hpa"], 16)
        pinned0 = int(s.one("mem")["pinned"])
        r.map(0x50000, 2 * P, hpa)
        assert int(s.one("mem")["pinned"]) == pinned0 + 2 * P
        s.err("mem free 0x%x 8K" % hpa, "EBUSY")
        r.unmap(0x50000, 2 * P)
        assert int(s.one("mem")["pinned"]) == pinned0
        s.ok("mem free 0x%x 8K" % hpa)
    finally:
        r.close()


def test_mappings_survive_detach(s):
    r = v.Rig(s)
    try:
        a = r.alloc(P)
        r.fill(a, P, 0x5E)
        r.map(0x60000, P, a)
        s.ok("as detach %s %s" % (r.asid, r.edu))
        rec = [x for x in s.ok("as list") if x["as"] == r.asid][0]
        assert rec["mappings"] == "1" and rec["domains"] == "0" and rec["devices"] == "-", rec
        assert int(s.one("pin stat %s" % r.asid)["pinned"]) == P  # still pinned
        s.err("mem free 0x%x 4096" % a, "EBUSY")
        s.ok("as attach %s %s" % (r.asid, r.edu))
        assert r.read(0x60000, 64) == ("ok", v.crc(b"\x5e" * 64))
    finally:
        r.close()


def test_group_in_one_space(s):
    r = v.Rig(s)
    try:
        other = s.one("as create")["as"]
        s.err("as attach %s %s" % (other, r.edu), "EBUSY")
        s.ok("as destroy %s" % other)
    finally:
        r.close()


def test_prereg(s):
    r = v.Rig(s)
    try:
        rec = s.one("mem alloc 64K")
        hpa = int(rec["hpa"], 16)
        asid = r.asid
        s.ok("pin register %s 0x%x 64K" % (asid, hpa))
        st = s.one("pin stat %s" % asid)
        assert int(st["registered"]) == 65536 and int(st["pinned"]) == 65536, st
        s.err("pin register %s 0x%x 64K" % (asid, hpa), "EBUSY")
        s.err("pin register %s 0x%x 8K" % (asid, hpa + P), "EINVAL")
        s.err("pin register %s 0x%x 100" % (asid, hpa), "EINVAL")
        # maps inside the registration charge nothing more
        r.map(0x70000, 4 * P, hpa + 4 * P)
        assert int(s.one("pin stat %s" % asid)["pinned"]) == 65536
        s.ok("mem fill 0x%x 4096 0x19" % (hpa + 4 * P))
        assert r.read(0x70000, 32) == ("ok", v.crc(b"\x19" * 32))
        s.err("pin unregister %s 0x%x 64K" % (asid, hpa), "EBUSY")
        s.err("pin unregister %s 0x%x 32K" % (asid, hpa), "ENOENT")
        s.err("mem free 0x%x 64K" % hpa, "EBUSY")
        r.unmap(0x70000, 4 * P)
        s.ok("pin unregister %s 0x%x 64K" % (asid, hpa))
        st = s.one("pin stat %s" % asid)
        assert int(st["registered"]) == 0 and int(st["pinned"]) == 0, st
        s.ok("mem free 0x%x 64K" % hpa)
    finally:
        r.close()


def test_pin_limit(s):
    r = v.Rig(s)
    try:
        s.ok("pin limit %s 16K" % r.asid)
        r.map(0x80000, 4 * P)
        s.err("dma map %s 0x90000 4096 alloc" % r.asid, "ENOMEM")
        assert len(s.ok("dma list %s" % r.asid)) == 1
        assert int(s.one("pin stat %s" % r.asid)["pinned"]) == 4 * P
        assert r.translate(0x90000) is None
        s.ok("pin limit %s unlimited" % r.asid)
        r.map(0x90000, P)
    finally:
        r.close()


def test_shared_owner_charged_once(s):
    r = v.Rig(s)
    try:
        a = r.alloc(4 * P)
        other = s.one("as create share=%s" % r.asid)["as"]
        r.map(0xA0000, 4 * P, a)
        s.ok("dma map %s 0xB0000 16K hpa:0x%x" % (other, a))
        assert int(s.one("pin stat %s" % r.asid)["pinned"]) == 4 * P
        assert int(s.one("pin stat %s" % other)["pinned"]) == 4 * P
        s.ok("as destroy %s" % other)
        assert int(s.one("pin stat %s" % r.asid)["pinned"]) == 4 * P
    finally:
        r.close()


def test_hint_unhint(s):
    r = v.Rig(s)
    try:
        a = r.alloc(8 * P)
        r.fill(a, 8 * P, 0x71)
        r.map(0xC0000, 8 * P, a)
        pinned = int(s.one("pin stat %s" % r.asid)["pinned"])
        s.ok("dma hint %s 0xC2000 8K" % r.asid)
        assert int(s.one("pin stat %s" % r.asid)["pinned"]) == pinned - 2 * P
        assert r.read(0xC2000, 16)[0] == "fault"
        assert r.read(0xC3000, 16)[0] == "fault"
        assert r.read(0xC4000, 16) == ("ok", v.crc(b"\x71" * 16))
        s.err("dma hint %s 0xC1000 100" % r.asid, "EINVAL")
        s.ok("dma unhint %s 0xC2000 8K" % r.asid)
        assert r.read(0xC2000, 16) == ("ok", v.crc(b"\x71" * 16))
        assert int(s.one("pin stat %s" % r.asid)["pinned"]) == pinned
    finally:
        r.close()


def test_destroy_unpins_everything(s):
    pinned0 = int(s.one("mem")["pinned"])
    r = v.Rig(s)
    r.map(0xD0000, 16 * P)
    r.map(0x200000, 2 << 20)
    assert int(s.one("mem")["pinned"]) == pinned0 + 16 * P + (2 << 20)
    r.close()
    assert int(s.one("mem")["pinned"]) == pinned0
    assert s.one("iommu")["domains"] == "0"


def test_bench_dma_runs(s):
    r = v.Rig(s)
    try:
        rec = s.one("bench dma %s 4096 200" % r.asid)
        assert rec["count"] == "200" and rec["size"] == "4096"
        assert int(rec["map_ns"]) > 0 and int(rec["unmap_ns"]) > 0
        s.err("bench dma %s 4096 0" % r.asid, "EINVAL")
    finally:
        r.close()
    a = s.one("as create")["as"]
    s.err("bench dma %s 4096 10" % a, "EINVAL")  # no device attached
    s.ok("as destroy %s" % a)


def test_exhausted_memory(s):
    """asking for more memory than there is: a clear ENOMEM, and nothing
    allocated, pinned or mapped is left behind"""
    r = v.Rig(s)
    try:
        before = s.one("mem")
        s.err("dma map %s 0x40000000 2G alloc" % r.asid, "ENOMEM")
        over = (int(before["free"]) + (4 << 20)) & ~0xFFF  # just more than is free
        s.err("dma map %s 0x40000000 %d alloc" % (r.asid, over), "ENOMEM")
        s.err("bench dma %s 1G 1" % r.asid, "ENOMEM")
        after = s.one("mem")
        assert after["free"] == before["free"] and after["pinned"] == before["pinned"], (before, after)
        assert s.ok("dma list %s" % r.asid) == []
        # hold on to memory until mem alloc runs dry, then give it back
        held = []
        while True:
            recs, st = s.cmd("mem alloc 64M")
            if st != "OK":
                assert st.startswith("ERR ENOMEM"), st
                break
            held.append(recs[0]["hpa"])
        assert held
        left = int(s.one("mem")["free"])
        s.err("dma map %s 0x100000 %d alloc" % (r.asid, (left + (1 << 20)) & ~0xFFF), "ENOMEM")
        assert int(s.one("mem")["free"]) == left
        for hpa in held:
            s.ok("mem free %s 64M" % hpa)
        assert s.one("mem")["free"] == before["free"]
        r.map(0x100000, 64 << 20)  # works again
    finally:
        r.close()
