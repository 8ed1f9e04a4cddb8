"""tests/qemu/test_console.py — the foundation, checked from outside through
the console contract: boot to the prompt, version, help, mem, acpi, lspci,
page protections, and bad input of every kind."""
import re

from sluice_qemu import EDU

ALONE = True  # the boot-time check must not share the CPUs
MEM = "1G"
BOOT = dict(mem=MEM, devices=EDU, cfg="# comment line\nheap_order=13")


def test_boot_time(s):
    # QEMU start (OVMF included) to "sluice: ready" within 10 s under TCG
    assert s.boot_seconds < 10, s.boot_seconds
    rec = s.ok("boot")[0]
    ms = int(rec["boot_ms"])
    assert 0 < ms < 5000, ms
    print("boot figures: qemu_start_to_ready_s=%.2f efi_main_to_prompt_ms=%d"
          % (s.boot_seconds, ms))
    args = [r["arg"] for r in s.ok("boot") if "arg" in r]
    assert args == ["heap_order=13"], args  # sluice.cfg read, comment dropped


def test_ready_line_before_prompt(s):
    i = s.buf.find("sluice: ready")
    assert i >= 0 and s.buf.find("sluice> ", i) > i


def test_version(s):
    rec = s.one("version")
    assert rec["name"] == "sluice"
    assert re.fullmatch(r"\d+\.\d+\.\d+", rec["version"])
    assert re.fullmatch(r"[0-9a-f]{7,}|unknown", rec["commit"])


def test_help_lists_commands(s):
    s.ok("help")
    text = "\n".join(s.last_lines)
    for c in ["version", "mem alloc", "mem free", "mem fill", "mem crc", "acpi", "lspci",
              "pci read", "pci write", "poweroff", "reboot", "iommu", "iommu faults"]:
        assert c in text, c


def test_mem(s):
    rec = s.one("mem")
    total, free = int(rec["total"]), int(rec["free"])
    assert free <= total
    # close to QEMU's -m (firmware keeps some, below 1 MiB is left alone)
    assert 0.85 * (1 << 30) < total <= (1 << 30), total
    assert int(rec["pinned"]) == 0
    assert "pt" in rec


def test_mem_alloc_fill_crc_free(s):
    rec = s.one("mem alloc 64K")
    hpa, size = int(rec["hpa"], 16), int(rec["size"])
    assert size == 65536 and hpa % 65536 == 0
    s.ok("mem fill 0x%x 65536 0xa5" % hpa)
    # zlib.crc32(b"\xa5" * 65536)
    import zlib
    assert s.one("mem crc 0x%x 65536" % hpa)["crc32"] == "0x%08x" % zlib.crc32(b"\xa5" * 65536)
    assert s.one("mem crc 0x%x 3" % (hpa + 1))["crc32"] == "0x%08x" % zlib.crc32(b"\xa5" * 3)
    s.ok("mem free 0x%x 64K" % hpa)
    s.err("mem free 0x%x 64K" % hpa, "ENOENT")
    # memory sluice uses itself is not the user's to write
    s.err("mem fill 0x%x 16 1" % hpa, "EPERM")


def test_mem_errors(s):
    s.err("mem alloc 0", "EINVAL")
    s.err("mem alloc 2G", "EINVAL")
    s.err("mem alloc 1023M", "ENOMEM")
    s.err("mem alloc", "EINVAL")
    s.err("mem alloc 12Q", "EINVAL")
    s.err("mem crc 0x1000 0", "EINVAL")
    s.err("mem crc 0xffffffffffffff00 0x1000", "EOVERFLOW")
    s.err("mem crc 0x100000000000 16", "EFAULT")
    s.err("mem fill 0x100000 16 256", "EOVERFLOW")


def test_acpi(s):
    sigs = {r["sig"] for r in s.ok("acpi")}
    assert {"DMAR", "MCFG", "APIC", "FACP"} <= sigs, sigs
    for r in s.ok("acpi"):
        assert r["addr"].startswith("0x") and int(r["len"]) >= 36


def test_lspci(s):
    recs = s.ok("lspci")
    for r in recs:
        for k in ("bdf", "id", "class", "unit", "group"):
            assert k in r, (k, r)
        assert re.fullmatch(r"[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", r["bdf"]), r
    ids = [r["id"] for r in recs]
    assert "1234:11e8" in ids          # edu
    assert "8086:29c0" in ids          # q35 host bridge
    edu = [r for r in recs if r["id"] == "1234:11e8"][0]
    assert edu["unit"] == "0"
    # all on the root bus, all conventional PCI (no ACS): one group per slot,
    # the functions of a multi-function slot (ICH9's 00:1f.*) together
    slot = {}
    for r in recs:
        slot.setdefault(r["bdf"].split(".")[0], set()).add(r["group"])
    assert all(len(g) == 1 for g in slot.values()), slot
    assert len({r["group"] for r in recs}) == len(slot), slot
    assert len(slot["00:1f"]) == 1 and len([r for r in recs if r["bdf"].startswith("00:1f.")]) > 1


def test_pci_read_write(s):
    edu = [r for r in s.ok("lspci") if r["id"] == "1234:11e8"][0]["bdf"]
    assert s.one("pci read %s 0 4" % edu)["value"] == "0x11e81234"
    assert s.one("pci read %s 0 2" % edu)["value"] == "0x1234"
    assert s.one("pci read %s 0x2e 2" % edu)["value"] in ("0x1100", "0x0000", "0x0")
    # interrupt line register is writable scratch space
    s.ok("pci write %s 0x3c 1 0x5a" % edu)
    assert int(s.one("pci read %s 0x3c 1" % edu)["value"], 16) == 0x5a
    s.err("pci read %s 1 4" % edu, "EINVAL")        # misaligned
    s.err("pci read %s 0x1000 4" % edu, "EINVAL")   # beyond config space
    s.err("pci read %s 0 3" % edu, "EINVAL")        # bad size
    s.err("pci read 00:1f.7 0 4", "ENODEV")
    s.err("pci read 00:20.0 0 4", "EINVAL")
    s.err("pci read zz 0 4", "EINVAL")
    s.err("pci write %s 0x3c 1 0x100" % edu, "E")   # value too wide


def test_cpu_page_protection(s):
    rec = s.one("cpu selftest")
    assert rec["text_wp"] == "ok" and rec["text_vector"] == "14"
    assert rec["nx"] == "ok" and rec["nx_vector"] == "14"


def test_iommu_shows_unit(s):
    rec = s.one("iommu")
    assert rec["unit"] == "0" and rec["base"] == "0xfed90000"
    assert rec["dmar"] == "on" and rec["qi"] == "on"
    # every key ../shared/CONSOLE.md lists for `iommu`
    for key in ("unit", "base", "ver", "aw", "levels", "sps", "qi", "ir", "dmar", "cm", "sc",
                "domains", "mode", "kind"):
        assert key in rec, key
    assert rec["mode"] == "legacy" and rec["kind"] == "vtd"


def test_bad_input(s):
    s.err("frobnicate", "EINVAL")
    s.err("version extra", "EINVAL")
    s.err("mem fill 1 2", "EINVAL")
    s.err("mem crc 0xZZ 4", "EINVAL")
    s.err("mem crc 99999999999999999999999 4", "EOVERFLOW")
    s.err("mem crc 0x1000 0x1ffffffffffffffffff", "EOVERFLOW")
    s.err("x" * 5000, "E2BIG")
    s.err("mem" + " " * 5000, "E2BIG")
    s.err("ver\x01sion", "EINVAL")                     # control character
    s.err("version\x1b[A", "EINVAL")                  # escape sequence (arrow up)
    s.err("\x1b[2J\x1b[31mversion", "EINVAL")
    s.err(" ".join(["w"] * 40), "E2BIG")              # too many words
    # the console still works afterwards, and backspace edits
    assert s.one("versiom\x08n")["name"] == "sluice"
    assert s.one("version")["name"] == "sluice"


def test_empty_line_gives_prompt(s):
    s.send("\r")
    s.wait_for(r"sluice> ", 5)
    assert s.one("version")["name"] == "sluice"


def test_crlf_counts_once(s):
    recs, st = s.cmd("version", raw="version\r\n")
    assert st == "OK"
    # the LF must not produce a second (empty) command or status
    assert s.one("mem")["total"]
