"""tests/qemu/test_esp_image.py — the USB-stick image (make esp.img, a FAT
file system with EFI/BOOT/BOOTX64.EFI) boots to the prompt as a raw disk,
the way a lab machine boots it."""
import os

from sluice_qemu import ROOT

BOOT = dict(mem="512M", image=os.path.join(ROOT, "build", "esp.img"))


def test_boots_from_image(s):
    assert s.one("version")["name"] == "sluice"
    assert s.one("iommu")["dmar"] == "on"
