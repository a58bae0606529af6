#!/usr/bin/env python3
"""Adds up meson's JSON test logs into one closing line for CI:
"Tests: N passed, N failed, N skipped".  A Check suite counts as its number
of test cases (TAP subtests), every other test as one.  Exits non-zero when
a log is missing or anything failed."""

import json
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}


def count(path):
    passed = failed = skipped = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            result = t["result"]
            # Meson keeps no per-subtest results in the JSON log; a TAP suite
            # that passed had all its subtests pass, so count them from stdout.
            subtests = sum(1 for l in (t.get("stdout") or "").splitlines()
                           if l.startswith(("ok ", "not ok ")))
            n = max(subtests, 1)
            if result in PASSED:
                passed += n
            elif result in SKIPPED:
                skipped += 1
            else:
                failed += max(1, sum(1 for l in (t.get("stdout") or "").splitlines()
                                     if l.startswith("not ok ")))
                print(f"failed: {t['name']} ({result}) in {path}")
    return passed, failed, skipped


def main(paths):
    totals = [0, 0, 0]
    missing = False
    for path in paths:
        try:
            for i, n in enumerate(count(path)):
                totals[i] += n
        except FileNotFoundError:
            print(f"missing test log: {path}")
            missing = True
    passed, failed, skipped = totals
    print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
