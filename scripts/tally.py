#!/usr/bin/env python3
"""scripts/tally.py LANE TESTLOG.json — count test cases in one meson test run.

Reads each meson test's output: Criterion's (or minicrit's) synthesis line,
busted's summary line, or, for a test with neither, the test itself as one
case; a test meson skipped (exit status 77: spec/pending.sh) is one pending
case. Skipped C tests ([SKIP] lines) and pending specs are counted apart:
they neither pass nor fail, and their reasons are in the log. Prints
`LANE: N passed, N failed, N pending` and writes `N N N` to stdout's
last line for the caller to add up.
"""
import json
import re
import sys

CRIT = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| "
                  r"Failing: (\d+) \| Crashing: (\d+)")
BUSTED = re.compile(r"(\d+) successes? / (\d+) failures? / (\d+) errors? / "
                    r"(\d+) pending")


def count(test):
    """(passed, failed, pending) for one meson test."""
    out = (test.get("stdout") or "") + (test.get("stderr") or "")
    if test.get("result") == "SKIP":
        return 0, 0, 1
    ok = test.get("result") in ("OK", "EXPECTEDFAIL")
    pending = 0
    m = CRIT.findall(out)
    if m:
        t, p, f, c = map(int, m[-1])
        passed, failed = p, t - p
        pending = len(re.findall(r"^\[SKIP\] ", out, re.M))
    else:
        m = BUSTED.findall(out)
        if m:
            s, f, e, pending = map(int, m[-1])
            passed, failed = s, f + e
        else:
            passed, failed = (1, 0) if ok else (0, 1)
    if not ok and failed == 0:  # crashed after its summary, or timed out
        failed = 1
    return passed, failed, pending


def main():
    lane, path = sys.argv[1], sys.argv[2]
    passed = failed = pending = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                p, fl, pe = count(json.loads(line))
                passed += p
                failed += fl
                pending += pe
    print(f"{lane}: {passed} passed, {failed} failed, {pending} pending")
    print(f"{passed} {failed} {pending}")


if __name__ == "__main__":
    main()
