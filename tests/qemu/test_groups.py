"""tests/qemu/test_groups.py — isolation groups: two edu devices behind a
conventional pci-bridge share the bridge's requester ID and so one group;
devices on separate PCIe root ports are in separate groups."""
BOOT = dict(mem="1G", devices=[
    "-device", "pci-bridge,id=br0,chassis_nr=1,addr=0x5",
    "-device", "edu,bus=br0,addr=0x1,dma_mask=0xffffffffffffffff",
    "-device", "edu,bus=br0,addr=0x2,dma_mask=0xffffffffffffffff",
    "-device", "pcie-root-port,id=rp1,chassis=2,slot=1,addr=0x6",
    "-device", "pcie-root-port,id=rp2,chassis=3,slot=2,addr=0x7",
    "-device", "e1000e,bus=rp1,romfile=",
    "-device", "e1000e,bus=rp2,romfile=",
])


def edus(s):
    return [r for r in s.ok("lspci") if r["id"] == "1234:11e8"]


def test_edus_behind_bridge_share_group(s):
    e = edus(s)
    assert len(e) == 2, e
    assert e[0]["group"] == e[1]["group"], e
    assert e[0]["unit"] == "0" and e[1]["unit"] == "0"


def test_root_port_devices_separate(s):
    nics = [r for r in s.ok("lspci") if r["id"] == "8086:10d3"]
    assert len(nics) == 2, nics
    assert nics[0]["group"] != nics[1]["group"]
    assert nics[0]["group"] not in {r["group"] for r in edus(s)}


def test_bridge_alias(s):
    e = edus(s)
    # both use one requester ID as the IOMMU sees it
    assert e[0].get("alias") == e[1].get("alias"), e
