#!/usr/bin/env python3
"""tools/check_layers.py — fails on an #include that points up the layer map.

The map (docs/layers.md), bottom to top; an include may only point to
the same rank or below:

  0  lib/  hw/  boot/boot_info.h (the loader's hand-over record)
     arch/x86/cpu.h (inline CPU instructions: a hardware-access header)
  1  kernel/    core services: frames, heap, time, log, panic, boot args
  2  arch/  drivers/  and iommu/*.h, the IOMMU core's contract (the ops
     table drivers fill, interrupt routes drivers use)
  3  iommu/vtd/  iommu/pgtable_*  (drivers of the core, page-table formats)
  4  iommu/*.c   the IOMMU core
  5  dma/
  6  vm/  guests/
  7  console/  net/
  bring-up: kernel/main.c, kernel/platform.[ch] and boot/*.c see every layer.

A driver of the IOMMU core is private: iommu/vtd/*.h (later iommu/smmuv3/)
may be included only from its own folder and by bring-up; everyone else
reaches it through iommu/iommu.h.

Usage: check_layers.py [ROOT]   (prints each offending include; exit 1)
"""
import os
import re
import sys

SOURCE_DIRS = ["lib", "hw", "boot", "kernel", "arch", "drivers", "iommu",
               "dma", "vm", "guests", "console", "net"]
BRINGUP = {"kernel/main.c", "kernel/platform.c", "kernel/platform.h"}
PRIVATE = re.compile(r"^iommu/(vtd|smmuv3)/")
TOP = 99

# (pattern on the path, rank), first match wins.
RANKS = [
    (r"^boot/boot_info\.h$", 0),
    (r"^boot/", TOP),
    (r"^arch/x86/cpu\.h$", 0),
    (r"^(lib|hw)/", 0),
    (r"^kernel/", 1),
    (r"^(arch|drivers)/", 2),
    (r"^iommu/(vtd|smmuv3)/", 3),
    (r"^iommu/pgtable_", 3),
    (r"^iommu/[^/]+\.h$", 2),
    (r"^iommu/[^/]+\.c$", 4),
    (r"^dma/", 5),
    (r"^(vm|guests)/", 6),
    (r"^(console|net)/", 7),
]
NAMES = {0: "lib/hw", 1: "kernel", 2: "arch/drivers/iommu contract",
         3: "iommu driver", 4: "iommu core", 5: "dma", 6: "vm", 7: "console/net",
         TOP: "bring-up"}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def rank(path):
    if path in BRINGUP:
        return TOP
    for pat, r in RANKS:
        if re.search(pat, path):
            return r
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad = 0
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h", ".S")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, fn), root)
                src = rank(path)
                with open(os.path.join(root, path), errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE_RE.match(line)
                        if not m:
                            continue
                        inc = m.group(1)
                        tgt = rank(inc)
                        pm = PRIVATE.match(inc)
                        if pm and src != TOP and not path.startswith(pm.group(0)):
                            print("%s:%d: includes %s: private to %s (use iommu/iommu.h)"
                                  % (path, n, inc, pm.group(0)))
                            bad += 1
                            continue
                        if tgt is None or src is None or tgt <= src:
                            continue
                        print("%s:%d: includes %s: %s may not include %s (layer map)"
                              % (path, n, m.group(1), NAMES[src], NAMES[tgt]))
                        bad += 1
    if bad:
        print("check_layers: %d include(s) point up the layer map" % bad)
        return 1
    print("check_layers: every include points down the layer map")
    return 0


if __name__ == "__main__":
    sys.exit(main())
