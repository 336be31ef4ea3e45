#!/usr/bin/env python3
"""Fails when a CTest test has no tier label, or more than one.

    check_labels.py CTEST BUILD_DIR

Tiers: unit, service, e2e, faults, trainer, fuzz (scripts/test.sh and the
sanitizer presets select tests by them). `security` is a theme label on top
of a tier; bad_input_test is in faults and service on purpose (in-process, so
the sanitizer tiers run it too).
"""

import json
import subprocess
import sys

TIERS = {"unit", "service", "e2e", "faults", "trainer", "fuzz"}
ALLOWED_PAIRS = ({"faults", "service"},)


def main(ctest, build_dir):
    listing = subprocess.run([ctest, "--show-only=json-v1"], cwd=build_dir, check=True,
                             capture_output=True, text=True).stdout
    tests = json.loads(listing)["tests"]
    bad = []
    for test in tests:
        labels = set()
        for prop in test.get("properties", []):
            if prop["name"] == "LABELS":
                labels.update(prop["value"])
        tiers = labels & TIERS
        if len(tiers) != 1 and tiers not in ALLOWED_PAIRS:
            bad.append(f"{test['name']}: tier labels {sorted(tiers) or 'none'} "
                       f"(labels {sorted(labels)})")
    for line in bad:
        print(line)
    if bad:
        print(f"check_labels: {len(bad)} of {len(tests)} tests need exactly one tier label of "
              f"{sorted(TIERS)}", file=sys.stderr)
        return 1
    if not tests:
        print("check_labels: no tests listed", file=sys.stderr)
        return 1
    print(f"check_labels: {len(tests)} tests, each in one tier")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
