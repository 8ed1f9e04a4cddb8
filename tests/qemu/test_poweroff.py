"""tests/qemu/test_poweroff.py — poweroff makes QEMU exit (ACPI S5)."""
BOOT = dict(mem="512M")


def test_poweroff_exits_qemu(s):
    s.ok("version")
    rc = s.poweroff()
    assert rc == 0, rc
