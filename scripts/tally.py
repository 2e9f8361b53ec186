#!/usr/bin/env python3
"""scripts/tally.py LANE TESTLOG.json — count test cases in one meson test run.

Reads each meson test's output: Criterion's (or minicrit's) synthesis line,
busted's summary line, or, for a test with neither, the test itself as one
case. Skipped cases are busted's pending ones and the C tests' `[SKIP] `
lines (minicrit prints one a skipped test; Criterion does not, so the tests
print it themselves: spec/c/luastate.h). Prints `LANE: N passed, N failed`
(`, N skipped` when some were) and writes `N N N` (passed, failed,
skipped) to stdout's last line for the caller to add up.
"""
import json
import re
import sys

CRIT = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| "
                  r"Failing: (\d+) \| Crashing: (\d+)")
BUSTED = re.compile(r"(\d+) successes? / (\d+) failures? / (\d+) errors? / "
                    r"(\d+) pending")
SKIP = re.compile(r"^\[SKIP\] ", re.M)


def count(test):
    out = (test.get("stdout") or "") + (test.get("stderr") or "")
    ok = test.get("result") in ("OK", "EXPECTEDFAIL")
    skipped = len(SKIP.findall(out))
    m = CRIT.findall(out)
    if m:
        t, p, f, c = map(int, m[-1])
        passed, failed = p, t - p
    else:
        m = BUSTED.findall(out)
        if m:
            s, f, e, pend = map(int, m[-1])
            passed, failed, skipped = s, f + e, pend
        else:
            passed, failed = (1, 0) if ok else (0, 1)
    if not ok and failed == 0:  # crashed after its summary, or timed out
        failed = 1
    return passed, failed, skipped


def main():
    lane, path = sys.argv[1], sys.argv[2]
    passed = failed = skipped = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                p, fl, sk = count(json.loads(line))
                passed += p
                failed += fl
                skipped += sk
    more = f", {skipped} skipped" if skipped else ""
    print(f"{lane}: {passed} passed, {failed} failed{more}")
    print(f"{passed} {failed} {skipped}")


if __name__ == "__main__":
    main()
