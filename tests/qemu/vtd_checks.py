"""tests/qemu/vtd_checks.py — the VT-d DMA-remapping proofs, shared by the
scenario files that boot QEMU in different shapes (default, caching mode,
48-bit address width, edu behind a PCI bridge).  Every check uses real DMA
by QEMU's edu device through QEMU's emulated VT-d: what the device reads is
checked by CRC, what it writes is checked in host memory, what it must not
reach is checked unchanged, faults are the records the hardware wrote."""
import zlib

PAGE = 4096


def crc(data):
    return "0x%08x" % zlib.crc32(data)


class Rig:
    """One address space with an edu device attached."""

    def __init__(self, s, edu_index=0):
        self.s = s
        edus = [r for r in s.ok("lspci") if r["id"] == "1234:11e8"]
        assert edus, "no edu device"
        self.edu = edus[edu_index]["bdf"]
        self.alias = edus[edu_index].get("alias", self.edu)
        self.asid = s.one("as create")["as"]
        s.ok("as attach %s %s" % (self.asid, self.edu))
        self.allocs = []

    def alloc(self, size):
        r = self.s.one("mem alloc %d" % size)
        hpa = int(r["hpa"], 16)
        self.allocs.append((hpa, size))
        return hpa

    def map(self, iova, size, hpa=None, prot="rw"):
        src = "alloc" if hpa is None else "hpa:0x%x" % hpa
        r = self.s.one("dma map %s 0x%x %d %s %s" % (self.asid, iova, size, src, prot))
        return int(r["hpa"], 16)

    def unmap(self, iova, size):
        return int(self.s.one("dma unmap %s 0x%x %d" % (self.asid, iova, size))["unmapped"])

    def fill(self, hpa, size, byte):
        self.s.ok("mem fill 0x%x %d %d" % (hpa, size, byte))

    def mcrc(self, hpa, size):
        return self.s.one("mem crc 0x%x %d" % (hpa, size))["crc32"]

    def read(self, iova, n):
        r = self.s.one("edu %s read 0x%x %d" % (self.edu, iova, n))
        return r["status"], r["crc32"]

    def write(self, iova, n, byte):
        return self.s.one("edu %s write 0x%x %d %d" % (self.edu, iova, n, byte))["status"]

    def translate(self, iova):
        recs, st = self.s.cmd("dma translate %s 0x%x" % (self.asid, iova))
        if st.startswith("ERR ENOENT"):
            return None
        assert st == "OK", st
        return recs[0]

    def faults(self):
        return [r for r in self.s.ok("iommu faults") if "kind" in r]

    def close(self):
        self.s.ok("as destroy %s" % self.asid)
        for hpa, size in self.allocs:
            self.s.ok("mem free 0x%x %d" % (hpa, size))


def check_unit(s, cm="0", aw="39", levels="3"):
    u = s.one("iommu")
    assert u["dmar"] == "on" and u["qi"] == "on", u
    assert u["cm"] == cm and u["aw"] == aw and u["levels"] == levels, u
    assert "2M" in u["sps"] and "1G" in u["sps"], u


def check_round_trip(s):
    """map a buffer, fill host memory, edu read -> crc matches;
    edu write -> host memory has the pattern."""
    r = Rig(s)
    try:
        hpa = r.alloc(4 * PAGE)
        r.map(0x100000, 4 * PAGE, hpa)
        r.fill(hpa, 4 * PAGE, 0x5A)
        r.fill(hpa + PAGE, 7, 0x11)  # make the page's content less uniform
        want = b"\x11" * 7 + b"\x5a" * (PAGE - 7)
        assert r.read(0x101000, PAGE) == ("ok", crc(want))
        assert r.read(0x101003, 100) == ("ok", crc(want[3:103]))
        assert r.write(0x102000, PAGE, 0x33) == "ok"
        assert r.mcrc(hpa + 2 * PAGE, PAGE) == crc(b"\x33" * PAGE)
        assert r.write(0x103010, 32, 0x44) == "ok"
        assert r.mcrc(hpa + 3 * PAGE, PAGE) == crc(b"\x5a" * 16 + b"\x44" * 32 + b"\x5a" * (PAGE - 48))
        t = r.translate(0x102010)
        assert int(t["hpa"], 16) == hpa + 2 * PAGE + 0x10 and t["level"] == "1" and t["prot"] == "rw", t
    finally:
        r.close()


def check_unmapped_faults(s):
    """DMA to an unmapped IOVA: status=fault, a fault record with edu's
    requester id, the IOVA, the access; and the host page that sits at
    that physical address is not touched."""
    r = Rig(s)
    try:
        s.ok("iommu faults clear")
        victim = r.alloc(PAGE)  # not mapped anywhere; IOVA == its hpa
        r.fill(victim, PAGE, 0x77)
        before = r.mcrc(victim, PAGE)
        assert r.write(victim, 256, 0xEE) == "fault"
        assert r.mcrc(victim, PAGE) == before
        f = r.faults()
        assert any(x["bdf"] == r.alias and int(x["addr"], 16) == victim and x["access"] == "w"
                   and x["kind"] == "dma" for x in f), f
        st, c = r.read(victim + 0x800, 64)
        assert st == "fault"
        assert c == crc(b"\0" * 64)  # a blocked read returns zeros to the device
        f = r.faults()
        assert any(int(x["addr"], 16) == victim and x["access"] == "r" for x in f), f
        assert "! fault" in s.buf  # announced as an event
    finally:
        r.close()


def check_unmap_invalidates(s):
    """map -> DMA -> unmap -> DMA at the same IOVA faults (QEMU's IOTLB
    caches: without the invalidation the second DMA would still land);
    remapping the IOVA to another page sends the DMA to the new page."""
    r = Rig(s)
    try:
        a = r.alloc(PAGE)
        b = r.alloc(PAGE)
        r.fill(a, PAGE, 0x01)
        r.fill(b, PAGE, 0x02)
        r.map(0x200000, PAGE, a)
        assert r.write(0x200000, 128, 0xA1) == "ok"   # fills the IOTLB
        assert r.mcrc(a, 128) == crc(b"\xa1" * 128)
        assert r.unmap(0x200000, PAGE) == PAGE
        s.ok("iommu faults clear")
        assert r.write(0x200000, 128, 0xA2) == "fault"
        assert r.mcrc(a, 128) == crc(b"\xa1" * 128)   # the old page is not written
        assert r.read(0x200000, 16)[0] == "fault"
        # remap the same IOVA to another page
        r.map(0x200000, PAGE, b)
        assert r.write(0x200000, 128, 0xA3) == "ok"
        assert r.mcrc(b, 128) == crc(b"\xa3" * 128)
        assert r.mcrc(a, 128) == crc(b"\xa1" * 128)
        assert r.read(0x200000, 128) == ("ok", crc(b"\xa3" * 128))
        # and once more: unmap, map to a, the read sees a's bytes
        r.unmap(0x200000, PAGE)
        r.map(0x200000, PAGE, a)
        assert r.read(0x200000, 128) == ("ok", crc(b"\xa1" * 128))
    finally:
        r.close()


def check_read_only(s):
    """a read-only mapping: the device reads it, its writes change nothing."""
    r = Rig(s)
    try:
        a = r.alloc(PAGE)
        r.fill(a, PAGE, 0x3C)
        r.map(0x300000, PAGE, a, prot="r")
        assert r.translate(0x300000)["prot"] == "r"
        s.ok("iommu faults clear")
        assert r.write(0x300000, 512, 0xFF) == "fault"
        assert r.mcrc(a, PAGE) == crc(b"\x3c" * PAGE)
        f = r.faults()
        assert any(int(x["addr"], 16) == 0x300000 and x["access"] == "w" for x in f), f
        assert r.read(0x300000, 512) == ("ok", crc(b"\x3c" * 512))
        # write-only: reads are refused (read first: QEMU drops a
        # permission fault that hits a cached IOTLB entry silently)
        b = r.alloc(PAGE)
        r.fill(b, PAGE, 0x7E)
        r.map(0x301000, PAGE, b, prot="w")
        assert r.read(0x301000, 64) == ("fault", crc(b"\0" * 64))
        assert r.write(0x301000, 64, 0x12) == "ok"
        assert r.mcrc(b, 64) == crc(b"\x12" * 64)
        assert r.read(0x301000, 64)[1] == crc(b"\0" * 64)  # nothing leaks out
    finally:
        r.close()


def check_superpages(s, with_1g=True):
    """2 MiB (and 1 GiB) leaves: translate shows the leaf level, DMA at
    offsets inside works; a partial unmap (hint) of one 4 KiB page inside
    the large leaf splits it: that page faults, the rest still works."""
    r = Rig(s)
    try:
        two = 2 << 20
        hpa = r.alloc(two)  # naturally aligned 2 MiB block
        r.map(0x40000000 - two, two, hpa)  # 2 MiB-aligned IOVA
        base = 0x40000000 - two
        t = r.translate(base + 0x12345)
        assert t["level"] == "2" and int(t["hpa"], 16) == hpa + 0x12345, t
        r.fill(hpa + 0x1ff000, PAGE, 0x9D)
        assert r.read(base + 0x1ff000, PAGE) == ("ok", crc(b"\x9d" * PAGE))
        assert r.write(base + 0x80000, 100, 0x6B) == "ok"
        assert r.mcrc(hpa + 0x80000, 100) == crc(b"\x6b" * 100)
        # split: hint one page in the middle
        s.ok("dma hint %s 0x%x 4096" % (r.asid, base + 0x100000))
        assert r.translate(base + 0x100000) is None
        t = r.translate(base + 0x101000)
        assert t["level"] == "1" and int(t["hpa"], 16) == hpa + 0x101000, t
        assert r.translate(base)["level"] == "1"
        s.ok("iommu faults clear")
        assert r.write(base + 0x100000, 64, 0x55) == "fault"
        assert r.write(base + 0x101000, 64, 0x56) == "ok"
        assert r.mcrc(hpa + 0x101000, 64) == crc(b"\x56" * 64)
        assert r.read(base + 0x1ff000, 64) == ("ok", crc(b"\x9d" * 64))
        s.ok("dma unhint %s 0x%x 4096" % (r.asid, base + 0x100000))
        assert r.write(base + 0x100000, 64, 0x57) == "ok"
        assert r.mcrc(hpa + 0x100000, 64) == crc(b"\x57" * 64)
        if with_1g:
            gig = 1 << 30
            g = r.map(gig, gig)  # fresh memory, contiguous and aligned
            t = r.translate(gig + 0x3456789)
            assert t["level"] == "3", t
            assert int(t["hpa"], 16) == g + 0x3456789, t
            assert r.write(gig + 0x3456000, 200, 0x42) == "ok"
            assert r.mcrc(g + 0x3456000, 200) == crc(b"\x42" * 200)
            s.ok("dma hint %s 0x%x 4096" % (r.asid, gig + 0x200000))
            assert r.translate(gig + 0x200000) is None
            assert r.translate(gig + 0x201000)["level"] == "1"
            assert r.translate(gig + 0x400000)["level"] == "2"
            assert r.translate(gig + 0x40000000 - PAGE)["level"] == "2"
            assert r.write(gig + 0x200000, 16, 1) == "fault"
            assert r.write(gig + 0x3456000, 16, 0x43) == "ok"
            assert r.mcrc(g + 0x3456000, 16) == crc(b"\x43" * 16)
            assert r.unmap(gig, gig) == gig
    finally:
        r.close()


def check_detach_blocks(s):
    """a detached device is blocked again (default deny); re-attaching
    replays the mappings into a new domain."""
    r = Rig(s)
    try:
        a = r.alloc(PAGE)
        r.fill(a, PAGE, 0x10)
        r.map(0x500000, PAGE, a)
        assert r.read(0x500000, 64) == ("ok", crc(b"\x10" * 64))
        s.ok("as detach %s %s" % (r.asid, r.edu))
        assert r.read(0x500000, 64)[0] == "fault"
        s.ok("as attach %s %s" % (r.asid, r.edu))
        assert r.read(0x500000, 64) == ("ok", crc(b"\x10" * 64))
    finally:
        r.close()


def standard_tests(unit=None, with_1g=True):
    """The standard proofs as test functions, for a scenario module:
    globals().update(vtd_checks.standard_tests(dict(cm="1")))."""
    def test_unit(s):
        check_unit(s, **(unit or {}))

    def test_round_trip(s):
        check_round_trip(s)

    def test_unmapped_iova_faults(s):
        check_unmapped_faults(s)

    def test_unmap_invalidates_iotlb(s):
        check_unmap_invalidates(s)

    def test_read_only_mapping(s):
        check_read_only(s)

    def test_superpages_and_split(s):
        check_superpages(s, with_1g=with_1g)

    def test_detach_blocks_and_replay(s):
        check_detach_blocks(s)

    return {f.__name__: f for f in (test_unit, test_round_trip, test_unmapped_iova_faults,
                                    test_unmap_invalidates_iotlb, test_read_only_mapping,
                                    test_superpages_and_split, test_detach_blocks_and_replay)}
