"""tests/qemu/test_images.py — guest images from the boot volume: sluice.cfg
names images in [image <name>] sections after its boot arguments; the
loader reads their files from the ESP before ExitBootServices.  Two good
images load (the boot log says so, `vm images` lists exactly them with the
files' sizes and CRCs), a missing kernel, a missing initrd, a kernel past
the 64 MiB limit and two bad sections give error lines and no image, the boot arguments before the
sections still work, and the images' memory is neither free nor counted as
sluice's RAM (compared with a boot without them)."""
import random
import re
import zlib

from sluice_qemu import EDU, Sluice

BOOT = None  # two boots of its own

ARGS = "allow_unsafe_interrupts\nheap_order=12 # a comment, as before\n"
rng = random.Random(10)
FILES = {
    "images/linux/vmlinuz": rng.randbytes(3 * 1024 * 1024 + 12345),
    # past 16 MiB: read in more than one File.Read call
    "images/linux/initrd.img": rng.randbytes(17 * 1024 * 1024 + 1),
    "images/tiny.bin": rng.randbytes(4097),
}
CFG = ARGS + """[image linux]
kernel=/images/linux/vmlinuz
initrd=\\images\\linux\\initrd.img
cmdline=console=ttyS0 quiet panic=-1

[image tiny]
# a kernel only
kernel=images//tiny.bin
[image gone]
kernel=/images/missing.bin
[image halfway]
kernel=/images/tiny.bin
initrd=/images/no-initrd
[image broken]
kernel=/images/tiny.bin
colour=blue
[image bad name]
kernel=/images/tiny.bin
[image big]
kernel=/images/big.bin"""
BIG = {"images/big.bin": bytes(64 * 1024 * 1024 + 1)}  # one byte past the limit

PAGES = sum((len(d) + 4095) // 4096 for d in FILES.values())


def boot_log(s):
    return s.buf.replace("\r", "")


def test_images(_):
    with Sluice(mem="1G", devices=EDU, cfg=CFG, files=dict(FILES, **BIG)) as s:
        log = boot_log(s)
        k, i, t = (len(FILES[p]) for p in
                   ("images/linux/vmlinuz", "images/linux/initrd.img", "images/tiny.bin"))
        assert "\nboot: image linux kernel=%d initrd=%d\n" % (k, i) in log, log[-3000:]
        assert "\nboot: image tiny kernel=%d initrd=0\n" % t in log
        assert "\nboot: image gone not loaded: kernel \\images\\missing.bin: not found\n" in log
        assert ("\nboot: image halfway not loaded: initrd \\images\\no-initrd: not found\n"
                in log)
        assert ("\nboot: image big not loaded: kernel \\images\\big.bin: larger than 64 MiB\n"
                in log)
        assert re.search(r"\nboot: sluice.cfg line 18: image broken dropped: unknown key", log)
        assert re.search(r"\nboot: sluice.cfg line 19: section dropped: bad image name", log)

        with_images = s.one("mem")  # before anything else allocates
        recs = s.ok("vm images")
        assert [r["image"] for r in recs] == ["linux", "tiny"], recs
        lx, tiny = recs
        assert (lx["kernel"], lx["initrd"]) == (str(k), str(i)), lx
        assert lx["cmdline_len"] == str(len("console=ttyS0 quiet panic=-1")), lx
        assert (tiny["kernel"], tiny["initrd"], tiny["initrd_hpa"]) == (str(t), "0", "-")
        assert tiny["cmdline_len"] == "0"
        sums = s.ok("vm images crc")
        assert sums[0]["kernel_crc32"] == "0x%08x" % zlib.crc32(FILES["images/linux/vmlinuz"])
        assert sums[0]["initrd_crc32"] == "0x%08x" % zlib.crc32(
            FILES["images/linux/initrd.img"])
        assert sums[1]["kernel_crc32"] == "0x%08x" % zlib.crc32(FILES["images/tiny.bin"])
        assert sums[1]["initrd_crc32"] == "-"
        s.err("vm images x", "EINVAL")

        # the boot arguments before the sections, and nothing of the sections
        args = [r["arg"] for r in s.ok("boot") if "arg" in r]
        assert args == ["allow_unsafe_interrupts", "heap_order=12"], args
        assert s.one("mem")["heap_size"] == str(16 << 20)
        edu = [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]
        a = s.one("as create")["as"]
        s.ok("as attach %s %s" % (a, edu))  # EPERM without allow_unsafe_interrupts

        # the images' memory is not sluice's free RAM: the console cannot
        # even read it, and the frame allocator does not count it
        for r in recs:
            s.err("mem crc %s 4096" % r["kernel_hpa"], "EFAULT")
        s.err("mem crc %s 4096" % lx["initrd_hpa"], "EFAULT")
    with Sluice(mem="1G", devices=EDU, cfg=ARGS) as s:
        assert "boot: image" not in boot_log(s)
        assert s.ok("vm images") == []
        without = s.one("mem")
    taken = int(without["total"]) - int(with_images["total"])
    # the images' pages, plus at most 2 MiB the memory map may differ by
    assert PAGES * 4096 <= taken <= PAGES * 4096 + (2 << 20), (taken, PAGES * 4096)
    for m in (with_images, without):
        assert int(m["free"]) <= int(m["total"]), m
    # free memory goes down by as much (sluice's own use differs by the
    # frame allocator's bookkeeping of the other map)
    freed = int(without["free"]) - int(with_images["free"])
    assert abs(freed - PAGES * 4096) <= (2 << 20), (freed, PAGES * 4096)
