#!/usr/bin/env python3
"""Fails when a CTest test has no tier label, or more than one; with
PRESETS, fails when a sanitizer test preset selects a test whose executable
its build preset does not build (CTest would run a *_NOT_BUILT placeholder).

    check_labels.py CTEST BUILD_DIR [PRESETS]

Tiers: unit, service, e2e, faults, trainer, fuzz (scripts/test.sh and the
sanitizer presets select tests by them). `security` and `threads` (the unit
tests that run threads, which the tsan tier runs) are theme labels on top of
a tier; bad_input_test is in faults and service on purpose (in-process, so
the sanitizer tiers run it too).
"""

import json
import os
import re
import subprocess
import sys

TIERS = {"unit", "service", "e2e", "faults", "trainer", "fuzz"}
ALLOWED_PAIRS = ({"faults", "service"},)


def labels_of(test):
    labels = set()
    for prop in test.get("properties", []):
        if prop["name"] == "LABELS":
            labels.update(prop["value"])
    return labels


def unbuilt_in_presets(tests, build_dir, presets_path):
    """Tests a filtered test preset selects but its build preset skips."""
    with open(presets_path) as f:
        presets = json.load(f)
    targets_of = {p["configurePreset"]: set(p["targets"])
                  for p in presets.get("buildPresets", []) if "targets" in p}
    bin_dir = os.path.join(os.path.realpath(build_dir), "bin")
    unbuilt = {}
    for preset in presets.get("testPresets", []):
        targets = targets_of.get(preset["configurePreset"])
        label = preset.get("filter", {}).get("include", {}).get("label")
        if targets is None or label is None:
            continue
        excluded = preset["filter"].get("exclude", {}).get("name")
        for test in tests:
            executable = os.path.realpath(test.get("command", [""])[0])
            if os.path.dirname(executable) != bin_dir:
                continue  # a script, not one of our executables
            if not any(re.search(label, l) for l in labels_of(test)):
                continue
            if excluded and re.search(excluded, test["name"]):
                continue
            target = os.path.basename(executable)
            if target not in targets:
                unbuilt.setdefault((preset["name"], target), []).append(test["name"])
    return [f"preset {preset}: selects {len(names)} tests of {target} (e.g. {names[0]}) but its "
            f"build preset does not build {target}; add it to the targets"
            for (preset, target), names in sorted(unbuilt.items())]


def main(ctest, build_dir, presets_path=None):
    listing = subprocess.run([ctest, "--show-only=json-v1"], cwd=build_dir, check=True,
                             capture_output=True, text=True).stdout
    tests = json.loads(listing)["tests"]
    if presets_path:
        bad = unbuilt_in_presets(tests, build_dir, presets_path)
        for line in bad:
            print(line)
        print(f"check_labels: {len(bad)} test executables missing from {presets_path}")
        return 1 if bad else 0
    bad = []
    for test in tests:
        labels = labels_of(test)
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
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
