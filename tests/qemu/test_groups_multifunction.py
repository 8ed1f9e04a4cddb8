"""tests/qemu/test_groups_multifunction.py — two edu functions of one slot
(00:04.0 with multifunction=on, 00:04.1): conventional PCI functions have no
ACS, so nothing stops peer-to-peer between them inside the device and they
are one isolation group although each carries its own requester ID.
Attaching one function attaches both; both DMA through the one space."""
import vtd_checks as v

# allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format
# interrupts, so without it no device can be attached (README).
BOOT = dict(cfg="allow_unsafe_interrupts", mem="1G", devices=[
    "-device", "edu,addr=04.0,multifunction=on,dma_mask=0xffffffffffffffff",
    "-device", "edu,addr=04.1,dma_mask=0xffffffffffffffff",
])


def edus(s):
    return [r for r in s.ok("lspci") if r["id"] == "1234:11e8"]


def test_functions_share_group(s):
    e = edus(s)
    assert [r["bdf"] for r in e] == ["00:04.0", "00:04.1"], e
    assert e[0]["group"] == e[1]["group"], e
    # each keeps its own requester ID: the group is not an alias group
    assert e[0]["alias"] == "00:04.0" and e[1]["alias"] == "00:04.1", e
    members = [r for r in s.ok("lspci") if r["group"] == e[0]["group"]]
    assert len(members) == 2, members


def test_attach_brings_both_and_dma_works(s):
    e = edus(s)
    asid = s.one("as create")["as"]
    try:
        s.ok("as attach %s 00:04.0" % asid)
        devs = [r for r in s.ok("as list") if r["as"] == asid][0]["devices"].split(",")
        assert {"00:04.0", "00:04.1"} <= set(devs), devs
        other = s.one("as create")["as"]
        s.err("as attach %s 00:04.1" % other, "EBUSY")
        s.ok("as destroy %s" % other)
        hpa = int(s.one("mem alloc %d" % (2 * v.PAGE))["hpa"], 16)
        try:
            s.ok("dma map %s 0x300000 %d hpa:0x%x rw" % (asid, 2 * v.PAGE, hpa))
            s.ok("mem fill 0x%x %d %d" % (hpa, v.PAGE, 0x6C))
            for r, byte in zip(e, (0x71, 0x72)):
                # device -> memory through the space, then memory -> device
                rec = s.one("edu %s write 0x301000 256 %d" % (r["bdf"], byte))
                assert rec["status"] == "ok", rec
                assert s.one("mem crc 0x%x 256" % (hpa + v.PAGE))["crc32"] == \
                    v.crc(bytes([byte]) * 256)
                rec = s.one("edu %s read 0x300000 512" % r["bdf"])
                assert (rec["status"], rec["crc32"]) == ("ok", v.crc(b"\x6c" * 512)), rec
            s.ok("dma unmap %s 0x300000 %d" % (asid, 2 * v.PAGE))
        finally:
            s.ok("mem free 0x%x %d" % (hpa, 2 * v.PAGE))
    finally:
        s.ok("as destroy %s" % asid)
