#!/usr/bin/env python3
"""tools/bench_qemu.py — the in-QEMU half of `make bench` (Python 3 standard
library only).  Boots build/sluice.efi ONCE (TCG, q35, -m 4G so a 1 GiB
aligned block exists, -device intel-iommu,intremap=on, edu) and prints one
JSON object per line on stdout, each naming the console command and the
method that produced it.  Progress goes to stderr.

Figures (docs/bench.md explains each):
  1. map_unmap_pairs_per_s, sizes 4K/2M/1G: `bench dma <as> <size> <count>`
     on a space with edu attached (every unmap waits for its invalidation);
     timed inside sluice (TSC); pairs/s = 1e9 / (map_ns + unmap_ns).
  2. map_1gib_ms / unmap_1gib_ms as 1G, 2M and 4K leaves: `dma map <as>
     <iova> 1G hpa:<1 GiB block>` with the IOVA chosen so that only that
     leaf size fits (checked with `dma translate ... level=`); timed on the
     host around the console command, minus the median round trip of a
     trivial command (labelled "host wall-clock").  The 1G-leaf case is also
     given from `bench dma <as> 1G <count>` (in-sluice).
  3. inv_desc_per_unmap / wait_desc_per_unmap for 4K, 64K, 2M, 1G unmaps, a
     16-mapping unmap and `bench dma`: QEMU's `vtd_inv_desc` trace event (one
     line per queued descriptor the emulated IOMMU processes), counted
     between console commands.
  4. The reference figures the issue gives (Linux VFIO), with "reference":
     true.

The trace events are declared at boot (-trace vtd_inv_desc* -D file) and
switched off over QMP (trace-event-set-state) for the timing phase so that
trace output costs nothing there; they are switched on for phase 3 only.

  python3 tools/bench_qemu.py [--quick]     (--quick: small counts, for a smoke run)
"""
import json
import os
import re
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_qemu import EDU, Sluice, SluiceError  # noqa: E402

GIB = 1 << 30
MIB2 = 2 << 20
K4 = 4096
EDU_ID = "1234:11e8"

# (size word, count per run, runs): counts give >= ~0.1 s per run in TCG.
PAIRS = [("4K", 20000, 5), ("2M", 2000, 3), ("1G", 10, 3)]
PAIRS_QUICK = [("4K", 500, 2), ("2M", 50, 2), ("1G", 2, 2)]
LEAF_REPEATS = 5
RTT_SAMPLES = 15
INV_REPEATS = 5
TRACE_GLOB = "vtd_inv_desc*"

# "vtd_inv_desc invalidate desc type iotlb high 0x.. low 0x.." (QEMU 7.2
# hw/i386/trace-events); an optional "pid@time:" prefix is tolerated.  The
# \b after the name keeps vtd_inv_desc_iotlb_pages etc. out.
INV_RE = re.compile(r"(?:^|[:\s])vtd_inv_desc\b.*?\btype (\S+)")
# Sub-events that say what an IOTLB descriptor covered.
GRAN_RE = re.compile(r"(?:^|[:\s])(vtd_inv_desc_iotlb_(?:pages|domain|global))\b(.*)$")

REFERENCE = [
    {"figure": "map_unmap_pairs_per_s", "size": "4K", "value_min": 33000, "value_max": 45000,
     "unit": "1/s", "what": "Linux 6.1 VFIO type1, 4K map+unmap pairs per second on the same "
     "emulated VT-d (QEMU intel-iommu)"},
    {"figure": "map_1gib_ms", "leaf": "1G", "value": 14.5, "unit": "ms",
     "what": "Linux 6.1 VFIO type1, VFIO_IOMMU_MAP_DMA of 1 GiB hugetlb memory on the same "
     "emulated VT-d"},
    {"figure": "map_16gib_s", "leaf": "huge", "value": 0.03, "unit": "s",
     "what": "Linux VFIO, 16 GiB with huge pages, on a server (real hardware)"},
    {"figure": "map_16gib_s", "leaf": "4K", "value": 0.28, "unit": "s",
     "what": "Linux VFIO, 16 GiB with 4K pages, on a server (real hardware)"},
]


def log(msg):
    print("bench_qemu: " + msg, file=sys.stderr, flush=True)


def emit(fig):
    rec = {"bench": "qemu"}
    rec.update(fig)
    print(json.dumps(rec), flush=True)


def size_word(n):
    for unit, word in ((GIB, "G"), (1 << 20, "M"), (1 << 10, "K")):
        if n % unit == 0:
            return "%d%s" % (n // unit, word)
    return str(n)


class Qmp:
    """Just enough QMP to switch trace events on and off."""

    def __init__(self, path, timeout=20):
        end = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > end:
                    raise SluiceError("cannot connect to QMP at " + path)
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.rd = self.sock.makefile("r")
        self._reply()  # greeting
        self.execute("qmp_capabilities")

    def _reply(self):
        while True:
            line = self.rd.readline()
            if not line:
                raise SluiceError("QMP closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def execute(self, cmd, **args):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.sock.sendall((json.dumps(req) + "\n").encode())
        rep = self._reply()
        if "error" in rep:
            raise SluiceError("QMP %s: %s" % (cmd, rep["error"]))
        return rep.get("return")

    def trace(self, on):
        self.execute("trace-event-set-state", name=TRACE_GLOB, enable=bool(on))
        state = self.execute("trace-event-get-state", name=TRACE_GLOB)
        bad = [e["name"] for e in state if (e["state"] == "enabled") != bool(on)]
        if bad:
            raise SluiceError("trace events not switched %s: %s" % ("on" if on else "off", bad))

    def close(self):
        self.sock.close()


class Bench:
    def __init__(self, s, qmp, quick):
        self.s = s
        self.qmp = qmp
        self.quick = quick
        self.trace_pos = 0

    # ---------------------------------------------------------- helpers
    def timed(self, line, timeout=300):
        t0 = time.monotonic()
        recs = self.s.ok(line, timeout)
        return recs, time.monotonic() - t0

    def space_with_edu(self):
        edu = [r["bdf"] for r in self.s.ok("lspci") if r.get("id") == EDU_ID]
        if not edu:
            raise SluiceError("no edu (%s) in lspci" % EDU_ID)
        a = self.s.one("as create")["as"]
        self.s.ok("as attach %s %s" % (a, edu[0]))
        return a, edu[0]

    def new_trace(self):
        """Trace lines written since the last call (QEMU's log file is
        written line by line; a short settle wait covers the rest)."""
        prev = -1
        for _ in range(20):
            lines = self.s.trace_lines()
            if len(lines) == prev:
                break
            prev = len(lines)
            time.sleep(0.05)
        new = lines[self.trace_pos:]
        self.trace_pos = len(lines)
        return new

    # ------------------------------------------------- 1. pairs per second
    def pairs(self, a):
        sizes = PAIRS_QUICK if self.quick else PAIRS
        out = {}
        for word, count, runs in sizes:
            line = "bench dma %s %s %d" % (a, word, count)
            samples = []
            for _ in range(runs):
                recs, wall = self.timed(line)
                r = recs[0]
                m, u = int(r["map_ns"]), int(r["unmap_ns"])
                samples.append({"map_ns": m, "unmap_ns": u, "total_ms": int(r["total_ms"]),
                                "host_wall_ms": round(wall * 1e3, 1),
                                "pairs_per_s": round(1e9 / (m + u))})
            samples.sort(key=lambda x: x["pairs_per_s"])
            med = samples[len(samples) // 2]
            out[word] = med
            emit({"figure": "map_unmap_pairs_per_s", "size": word, "value": med["pairs_per_s"],
                  "unit": "1/s", "map_ns": med["map_ns"], "unmap_ns": med["unmap_ns"],
                  "min": samples[0]["pairs_per_s"], "max": samples[-1]["pairs_per_s"],
                  "runs": runs, "count": count, "command": line,
                  "method": "in-sluice TSC clock (bench dma: per-call mean over count pairs, "
                            "every unmap waits for its IOTLB invalidation); "
                            "pairs/s = 1e9/(map_ns+unmap_ns); median of runs",
                  "clock_check": "total_ms=%d vs host_wall_ms=%.1f for the median run"
                                 % (med["total_ms"], med["host_wall_ms"])})
        return out

    # ------------------------------------------- 2. map 1 GiB by leaf size
    def rtt(self, a, iova):
        """Median host round trip of a command that does next to nothing
        (`dma translate` of a mapped IOVA prints one record, like `dma map`)."""
        samples = []
        for _ in range(RTT_SAMPLES):
            _, t = self.timed("dma translate %s 0x%x" % (a, iova))
            samples.append(t)
        return statistics.median(samples)

    def leaves(self, a, pairs_1g):
        blk = self.s.one("mem alloc 1G")
        hpa = int(blk["hpa"], 16)
        if hpa % GIB:
            raise SluiceError("mem alloc 1G gave 0x%x, not 1 GiB aligned" % hpa)
        # IOVA choices: same offset as hpa mod 1G -> 1G leaves; 2M- but not
        # 1G-congruent -> 2M leaves; only 4K-congruent -> 4K leaves.
        cases = [("1G", 0x40000000, 3), ("2M", 0x40200000, 2), ("4K", 0x40001000, 1)]
        # Round trip measured with a mapping in place, as translate needs one.
        self.s.ok("dma map %s 0x%x 4K hpa:0x%x" % (a, 0x10000000, hpa))
        rtt = self.rtt(a, 0x10000000)
        self.s.ok("dma unmap %s 0x%x 4K" % (a, 0x10000000))
        emit({"figure": "console_round_trip_ms", "value": round(rtt * 1e3, 3), "unit": "ms",
              "command": "dma translate <as> <iova>", "samples": RTT_SAMPLES,
              "method": "host wall-clock (time.monotonic) around one console command, median; "
                        "subtracted from the host-timed figures below"})
        for leaf, iova, level in cases:
            maps, unmaps = [], []
            map_line = "dma map %s 0x%x 1G hpa:0x%x" % (a, iova, hpa)
            unmap_line = "dma unmap %s 0x%x 1G" % (a, iova)
            for i in range(LEAF_REPEATS):
                _, tm = self.timed(map_line)
                if i == 0:
                    # Check first and last page: the leaf size is what we claim.
                    for off in (0, GIB - K4):
                        got = self.s.one("dma translate %s 0x%x" % (a, iova + off))
                        if int(got["level"]) != level or int(got["hpa"], 16) != hpa + off:
                            raise SluiceError("%s: translate 0x%x gave %r, want level=%d hpa=0x%x"
                                              % (map_line, iova + off, got, level, hpa + off))
                _, tu = self.timed(unmap_line)
                maps.append(tm)
                unmaps.append(tu)
            for fig, samples, line in (("map_1gib_ms", maps, map_line),
                                       ("unmap_1gib_ms", unmaps, unmap_line)):
                med = statistics.median(samples)
                emit({"figure": fig, "leaf": leaf, "value": round((med - rtt) * 1e3, 2),
                      "unit": "ms", "raw_ms": round(med * 1e3, 2),
                      "min_ms": round((min(samples) - rtt) * 1e3, 2),
                      "max_ms": round((max(samples) - rtt) * 1e3, 2),
                      "runs": LEAF_REPEATS, "level": level, "command": line,
                      "method": "host wall-clock around the console command minus the median "
                                "console round trip; median of runs; leaf level checked with "
                                "dma translate; includes pinning/accounting of 262144 frames"
                                + ("" if fig == "map_1gib_ms" else
                                   " and the IOTLB invalidation wait")})
        m = pairs_1g
        emit({"figure": "map_1gib_ms", "leaf": "1G", "value": round(m["map_ns"] / 1e6, 2),
              "unit": "ms", "command": "bench dma %s 1G <count>" % a,
              "method": "in-sluice TSC clock (bench dma map_ns, median run of figure "
                        "map_unmap_pairs_per_s size=1G)"})
        emit({"figure": "unmap_1gib_ms", "leaf": "1G", "value": round(m["unmap_ns"] / 1e6, 2),
              "unit": "ms", "command": "bench dma %s 1G <count>" % a,
              "method": "in-sluice TSC clock (bench dma unmap_ns, includes the invalidation wait)"})
        return hpa

    # ------------------------------------------ 3. descriptors per unmap
    @staticmethod
    def classify(lines):
        inv, wait, types, gran = 0, 0, {}, {}
        for ln in lines:
            m = INV_RE.search(ln)
            if m:
                t = m.group(1)
                types[t] = types.get(t, 0) + 1
                if t == "wait":
                    wait += 1
                else:
                    inv += 1
                continue
            g = GRAN_RE.search(ln)
            if g:
                name = g.group(1).replace("vtd_inv_desc_iotlb_", "")
                if name == "pages":
                    mask = re.search(r"mask (0x[0-9a-f]+)", g.group(2))
                    if mask:
                        name = "pages(am=%d)" % int(mask.group(1), 16)
                gran[name] = gran.get(name, 0) + 1
        return inv, wait, types, gran

    def descriptors(self, a, hpa):
        # Nothing may have been traced while the events were off (timing).
        stray = len(self.new_trace())
        emit({"figure": "trace_lines_while_timing", "value": stray, "unit": "lines",
              "method": "vtd_inv_desc* lines written to the -D file between switching the "
                        "events off over QMP and phase 3; 0 means the timing ran untraced"})
        self.qmp.trace(True)
        self.new_trace()  # skip whatever came before
        base = 0x20000000
        # (name, iova, bytes, mappings the range is made of)
        cases = [("4K", base, K4, 1), ("64K", base, 64 << 10, 1), ("2M", base, MIB2, 1),
                 ("1G", 0x40000000, GIB, 1),
                 ("1G_2M_leaves_unaligned_iova", 0x40200000, GIB, 1),
                 ("64K_as_16x4K_mappings", base, 64 << 10, 16),
                 ("4M_as_2x2M_mappings", base, 4 << 20, 2)]
        for name, iova, size, nmaps in cases:
            piece = size // nmaps
            per_unmap, per_map = [], []
            for _ in range(INV_REPEATS):
                for k in range(nmaps):
                    self.s.ok("dma map %s 0x%x %s hpa:0x%x"
                              % (a, iova + k * piece, size_word(piece), hpa + k * piece))
                per_map.append(self.classify(self.new_trace()))
                recs = self.s.ok("dma unmap %s 0x%x %s" % (a, iova, size_word(size)))
                if int(recs[0]["unmapped"]) != size:
                    raise SluiceError("unmap %s: %r" % (name, recs))
                per_unmap.append(self.classify(self.new_trace()))
            inv = [p[0] for p in per_unmap]
            wait = [p[1] for p in per_unmap]
            emit({"figure": "inv_desc_per_unmap", "unmap": name, "bytes": size,
                  "mappings": nmaps, "value": statistics.mean(inv), "max": max(inv),
                  "wait_desc_per_unmap": statistics.mean(wait), "wait_max": max(wait),
                  "unit": "descriptors", "unmap_calls": INV_REPEATS,
                  "types": per_unmap[-1][2], "iotlb_granularity": per_unmap[-1][3],
                  "desc_per_map_call": statistics.mean(p[0] + p[1] for p in per_map) / nmaps,
                  "command": "dma unmap %s 0x%x %s" % (a, iova, size_word(size)),
                  "method": "QEMU -trace vtd_inv_desc* (one vtd_inv_desc line per descriptor "
                            "processed), lines counted per console command; "
                            "wait = type wait, inv = every other type"})
        # `dma unmap <as> all` over three mappings far apart (4K, 2M, 1G).
        per_unmap = []
        spread = [(base, K4), (base + (64 << 20), MIB2), (0x40000000, GIB)]
        for _ in range(INV_REPEATS):
            for iova, size in spread:
                self.s.ok("dma map %s 0x%x %s hpa:0x%x" % (a, iova, size_word(size), hpa))
            self.new_trace()
            recs = self.s.ok("dma unmap %s all" % a)
            if int(recs[0]["unmapped"]) != sum(sz for _, sz in spread):
                raise SluiceError("unmap all: %r" % recs)
            per_unmap.append(self.classify(self.new_trace()))
        inv = [p[0] for p in per_unmap]
        wait = [p[1] for p in per_unmap]
        emit({"figure": "inv_desc_per_unmap", "unmap": "all_of_4K+2M+1G_mappings",
              "bytes": sum(sz for _, sz in spread), "mappings": len(spread),
              "value": statistics.mean(inv), "max": max(inv),
              "wait_desc_per_unmap": statistics.mean(wait), "wait_max": max(wait),
              "unit": "descriptors", "unmap_calls": INV_REPEATS,
              "types": per_unmap[-1][2], "iotlb_granularity": per_unmap[-1][3],
              "command": "dma unmap %s all" % a,
              "method": "QEMU -trace vtd_inv_desc*, lines counted per console command"})
        # The bench loop itself: N map/unmap pairs, descriptors per unmap.
        n = 50 if self.quick else 200
        for word in ("4K", "2M"):
            line = "bench dma %s %s %d" % (a, word, n)
            self.s.ok(line)
            inv, wait, types, gran = self.classify(self.new_trace())
            calls = n + 1  # + the warm-up pair
            emit({"figure": "inv_desc_per_unmap", "unmap": "bench_dma_" + word,
                  "value": inv / calls, "wait_desc_per_unmap": wait / calls,
                  "unit": "descriptors", "unmap_calls": calls, "types": types,
                  "iotlb_granularity": gran, "command": line,
                  "method": "QEMU -trace vtd_inv_desc*, all lines during the command divided "
                            "by its count+1 unmap calls (bench dma does one warm-up pair)"})
        self.qmp.trace(False)


def vm_figures(s):
    """Guest figures, timed inside sluice (bench vm ...): the VMMCALL exit
    round trip, vm create + start to the guest's first output, and
    guest-driven edu DMA through the VM's VT-d domain (edu must be free)."""
    log("0/3 guests: bench vm exit, bench vm dma")
    edu = [r["bdf"] for r in s.ok("lspci") if r.get("id") == EDU_ID][0]
    runs = [s.one("bench vm exit", 300) for _ in range(3)]
    ex = sorted(int(r["exit_ns"]) for r in runs)[1]
    first = sorted(int(r["first_output_us"]) for r in runs)[1]
    emit({"figure": "vm_exit_round_trip_ns", "value": ex, "unit": "ns",
          "command": "bench vm exit", "method": "guest vmcall-bench: 100000 VMMCALLs, TSC "
          "around the whole run / exits (median of 3)", "runs": [int(r["exit_ns"]) for r in runs]})
    emit({"figure": "vm_create_start_to_first_output_us", "value": first, "unit": "us",
          "command": "bench vm exit", "method": "TSC from before vm create to the guest's "
          "first COM1 byte (median of 3)"})
    d = s.one("bench vm dma %s" % edu, 300)
    emit({"figure": "guest_edu_dma_bytes_per_s", "value": int(d["bytes_per_s"]), "unit": "B/s",
          "command": "bench vm dma %s" % edu, "method": "guest edu-bench: 10 DMAs of 2 KiB "
          "through the VM's domain, TSC around the run; edu's own 100 ms DMA timer bounds it",
          "total_ms": int(d["total_ms"])})


def main():
    quick = "--quick" in sys.argv[1:]
    qmp_path = "/tmp/sluice-bench-qmp-%d.sock" % os.getpid()
    t0 = time.monotonic()
    log("booting QEMU (-m 4G, intel-iommu,intremap=on, edu, -trace %s)" % TRACE_GLOB)
    # allow_unsafe_interrupts: QEMU 7.2 cannot block compatibility-format interrupts (README)
    s = Sluice(mem="4G", iommu="intel-iommu,intremap=on", devices=EDU,
               cfg="allow_unsafe_interrupts", trace=[TRACE_GLOB],
               extra=["-qmp", "unix:%s,server=on,wait=off" % qmp_path])
    qmp = None
    try:
        qmp = Qmp(qmp_path)
        qmp.trace(False)
        b = Bench(s, qmp, quick)
        b.new_trace()  # boot-time descriptors are not counted anywhere
        ver = s.one("version")
        unit = s.ok("iommu")[0]
        vm_figures(s)
        a, edu = b.space_with_edu()
        env = {"figure": "environment", "sluice_commit": ver.get("commit"),
               "qemu": "TCG q35 -cpu max -smp 1 -m 4G, -device intel-iommu,intremap=on, "
                       "-device edu (%s in as=%s)" % (edu, a),
               "iommu": {k: unit.get(k) for k in ("ver", "aw", "levels", "sps", "qi", "cm")},
               "host_cpus": os.cpu_count(), "boot_s": round(s.boot_seconds, 2)}
        emit(env)
        log("1/3 bench dma pairs")
        pairs = b.pairs(a)
        log("2/3 map 1 GiB as 1G/2M/4K leaves")
        hpa = b.leaves(a, pairs["1G"])
        log("3/3 invalidation descriptors per unmap (trace on)")
        b.descriptors(a, hpa)
        s.ok("dma unmap %s all" % a)
        s.ok("mem free 0x%x 1G" % hpa)
        for ref in REFERENCE:
            r = {"reference": True, "source": "the issue's comparison figures (not measured here)"}
            r.update(ref)
            emit(r)
        s.poweroff()
    finally:
        if qmp:
            qmp.close()
        s.close()
        try:
            os.unlink(qmp_path)
        except OSError:
            pass
    log("done in %.1f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SluiceError as e:
        print("bench_qemu: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
