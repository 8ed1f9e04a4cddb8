#!/usr/bin/env python3
"""tools/run_tests.py — runs sluice's test suites and prints one closing line.

  run_tests.py unit BIN...                 host unit-test binaries
  run_tests.py fuzz --seconds N BIN...     libFuzzer targets, N seconds each
  run_tests.py qemu FILE...                QEMU scenario modules
  run_tests.py all --fuzz-seconds N --unit BIN... --fuzz BIN... --qemu FILE...

Unit binaries print "<name>: N passed, N failed".  A fuzz target counts as
one test (passed if it ran its time without a crash).  A QEMU module
(tests/qemu/test_*.py) boots sluice once with the module's BOOT settings
(keyword arguments of tools/sluice_qemu.Sluice) and runs its test_*(s)
functions in order, each one test; a module may set BOOT = None and run
its own boots.  Two modules run at a time (the CI machine has 2 cores),
after the modules that set ALONE = True (timing checks) ran by themselves.

The last line is always "N passed, N failed".
"""
import concurrent.futures
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))

RESULT_RE = re.compile(r"(\d+) passed, (\d+) failed")


def run_unit(bins):
    passed = failed = 0
    for b in bins:
        t0 = time.monotonic()
        p = subprocess.run([b], capture_output=True, text=True)
        m = None
        for line in p.stdout.splitlines():
            mm = RESULT_RE.search(line)
            if mm:
                m = mm
        if m:
            passed += int(m.group(1))
            failed += int(m.group(2))
        if p.returncode != 0 or not m:
            if not m or int(m.group(2)) == 0:
                failed += 1  # crashed or printed no result
            sys.stdout.write(p.stdout[-4000:])
            sys.stdout.write(p.stderr[-4000:])
            print("unit: %s FAILED (exit %d)" % (os.path.basename(b), p.returncode))
        else:
            print("unit: %-28s %s (%.1fs)" % (os.path.basename(b), m.group(0),
                                              time.monotonic() - t0))
    return passed, failed


def run_fuzz(bins, seconds):
    passed = failed = 0
    for b in bins:
        name = os.path.basename(b)
        short = name[len("fuzz_"):] if name.startswith("fuzz_") else name
        seeds = os.path.join(ROOT, "tests", "fuzz", "corpus", short)
        work = tempfile.mkdtemp(prefix="fuzz-")
        try:
            corpus = os.path.join(work, "corpus")
            if os.path.isdir(seeds):
                shutil.copytree(seeds, corpus)
            else:
                os.makedirs(corpus)
            cmd = [os.path.abspath(b), "-max_total_time=%d" % seconds, "-rss_limit_mb=2048",
                   "-print_final_stats=0", corpus]
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
            if p.returncode == 0:
                passed += 1
                runs = re.findall(r"#(\d+)\s+DONE", p.stderr)
                print("fuzz: %-28s ok (%ds%s)" % (name, seconds,
                                                 ", %s runs" % runs[-1] if runs else ""))
            else:
                failed += 1
                sys.stdout.write(p.stderr[-6000:])
                print("fuzz: %s FAILED (exit %d)" % (name, p.returncode))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return passed, failed


def load_module(path):
    name = "qemu_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_qemu_module(path):
    """Returns (passed, failed, log text)."""
    from sluice_qemu import Sluice
    out = []
    passed = failed = 0
    try:
        mod = load_module(path)
    except Exception:
        return 0, 1, "qemu: %s: cannot load\n%s" % (path, traceback.format_exc())
    tests = [(n, f) for n, f in vars(mod).items() if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    boot = getattr(mod, "BOOT", {})
    name = os.path.basename(path)
    s = None
    t0 = time.monotonic()
    try:
        if boot is not None:
            s = Sluice(**boot)
            try:
                ms = s.ok("boot")[0]["boot_ms"]
            except Exception:
                ms = "?"
            out.append("qemu: %s: booted: QEMU start to prompt %.1fs, efi_main to prompt %s ms"
                       % (name, s.boot_seconds, ms))
        for tname, fn in tests:
            t1 = time.monotonic()
            try:
                fn(s)
                passed += 1
                out.append("qemu: %s::%s ok (%.1fs)" % (name, tname, time.monotonic() - t1))
            except Exception as e:
                failed += 1
                out.append("qemu: %s::%s FAILED: %s" % (name, tname, e))
                out.append(traceback.format_exc()[-3000:])
                if s is not None and s.proc.poll() is not None:
                    out.append("qemu: %s: QEMU died; the remaining tests fail" % name)
                    rest = tests[tests.index((tname, fn)) + 1:]
                    failed += len(rest)
                    break
    except Exception as e:
        failed += max(1, len(tests) - passed)
        out.append("qemu: %s: boot failed: %s" % (name, e))
    finally:
        if s is not None:
            s.close()
    out.append("qemu: %s: %d passed, %d failed (%.0fs)" % (name, passed, failed,
                                                        time.monotonic() - t0))
    return passed, failed, "\n".join(out)


def wants_alone(path):
    """A module with ALONE = True runs by itself first (timing checks)."""
    with open(path) as f:
        return any(line.startswith("ALONE = True") for line in f)


def run_qemu(files, jobs=2):
    passed = failed = 0
    alone = [f for f in files if wants_alone(f)]
    rest = [f for f in files if f not in alone]
    for path in alone:
        p, f, log = run_qemu_module(path)
        print(log, flush=True)
        passed += p
        failed += f
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for p, f, log in ex.map(run_qemu_module, rest):
            print(log, flush=True)
            passed += p
            failed += f
    return passed, failed


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    mode = argv[0]
    args = argv[1:]
    total_p = total_f = 0
    if mode == "unit":
        total_p, total_f = run_unit(args)
    elif mode == "fuzz":
        secs = 10
        if args[:1] == ["--seconds"]:
            secs = int(args[1])
            args = args[2:]
        total_p, total_f = run_fuzz(args, secs)
    elif mode == "qemu":
        total_p, total_f = run_qemu(args)
    elif mode == "all":
        groups = {"--unit": [], "--fuzz": [], "--qemu": []}
        secs = 10
        cur = None
        it = iter(args)
        for a in it:
            if a == "--fuzz-seconds":
                secs = int(next(it))
            elif a in groups:
                cur = a
            elif cur:
                groups[cur].append(a)
        for label, fn in (("unit", lambda: run_unit(groups["--unit"])),
                          ("fuzz", lambda: run_fuzz(groups["--fuzz"], secs)),
                          ("qemu", lambda: run_qemu(groups["--qemu"]))):
            t0 = time.monotonic()
            p, f = fn()
            print("%s: %d passed, %d failed (%.0fs)" % (label, p, f, time.monotonic() - t0),
                  flush=True)
            total_p += p
            total_f += f
    else:
        print(__doc__)
        return 2
    print("%d passed, %d failed" % (total_p, total_f))
    return 1 if total_f or (total_p == 0) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
