#!/usr/bin/env python3
"""Count the tests in meson's testlog.json.

Each Criterion program prints "Synthesis: Tested: T | Passing: P |
Failing: F | Crashing: C"; every one of its tests counts.  A program that
died before printing it (a crash, a timeout) counts as one failure.  Each
sanitizer report file in the folder given as the second argument counts
as one more failure (and is shown).  With a third argument, the results
file of tools/scripts/fuzz.sh: each "fuzz NAME: ... ok" line is one pass, any
other line (a failed target, a failed build) one failure; a missing file
is one failure.
Prints one line per program (with the assertion messages of a failing
one, so that the end of a CI log says why) and, last, "N passed,
N failed".
"""
import json
import os
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Criterion's lines about a failure: "[----] file:line: Assertion Failed",
# the message lines after it, "[FAIL] suite::test", crashes, timeouts.
WHY = re.compile(r"^\[(----|FAIL)\]|CRASH|[Tt]imed out|[Ww]arning: ")
SYNTH = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| "
                   r"Failing: (\d+) \| Crashing: (\d+)")


def sanitizer_reports(folder):
    """Report files left by ASan/LSan/UBSan (log_path=...)."""
    if not folder or not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder))


def why_failed(out, limit=30):
    """The lines of a failing program's output that tell why."""
    lines = [ANSI.sub("", l).rstrip() for l in out.splitlines()]
    why = [l for l in lines if WHY.search(l) and l.strip("[-] ")]
    if not why:
        why = [l for l in lines if l.strip()][-10:]
    if len(why) > limit:
        why = why[:limit] + [f"... ({len(why) - limit} more lines)"]
    return why


def fuzz_results(path):
    """(passed, failed) from tools/scripts/fuzz.sh's results file."""
    try:
        lines = [l.strip() for l in open(path, encoding="utf-8")
                 if l.strip()]
    except OSError as e:
        print(f"  fuzz: no results ({e})")
        return 0, 1
    if not lines:
        print("  fuzz: no target ran")
        return 0, 1
    passed = failed = 0
    for line in lines:
        print("  " + line)
        if line.startswith("fuzz ") and line.endswith(", ok"):
            passed += 1
        else:
            failed += 1
    return passed, failed


def main(path, san=None, fuzz=None):
    passed = failed = 0
    try:
        lines = open(path, encoding="utf-8", errors="replace").readlines()
    except OSError as e:
        print(f"no test log: {e}")
        print("0 passed, 1 failed")
        return 1
    if not lines:
        print("  no test ran (did the build fail?)")
        failed += 1
    for line in lines:
        try:
            t = json.loads(line)
        except ValueError:
            continue
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = None
        for m in SYNTH.finditer(out):
            pass
        ok = t.get("result") == "OK"
        if m:
            p, f = int(m.group(2)), int(m.group(3)) + int(m.group(4))
            if not ok and f == 0:
                f = 1  # the program failed after its tests (exit status)
        else:
            p, f = (1, 0) if ok else (0, 1)
        passed += p
        failed += f
        print(f"  {t.get('name')}: {p} passed, {f} failed"
              f"{'' if ok else ' (' + str(t.get('result')) + ')'}")
        if f:
            for l in why_failed(out):
                print("      " + l)
    reports = sanitizer_reports(san)
    for r in reports:
        failed += 1
        print(f"  sanitizer report {os.path.basename(r)}:")
        with open(r, encoding="utf-8", errors="replace") as f:
            for line in f.readlines()[:40]:
                print("    " + line.rstrip())
    if fuzz:
        p, f = fuzz_results(fuzz)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  "build/meson-logs/testlog.json",
                  sys.argv[2] if len(sys.argv) > 2 else None,
                  sys.argv[3] if len(sys.argv) > 3 else None))
