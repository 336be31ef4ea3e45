#!/usr/bin/env python3
"""Checks that every #include follows the layering of DESIGN.md.

    check_layering.py [--root DIR] [--rule NAME ...] [--list]

Reads every C++ file (.h .cc .hpp .cpp) under the repository root (build
directories and hidden directories skipped) and fails, naming the file, the
line and the rule, on each #include a rule forbids. With --rule only those
rules are checked (CTest runs one test per rule, so a failure names its rule).
Exit status: 0 clean, 1 violations, 2 usage or a tree that does not look like
the repository (so a wrong --root cannot pass silently).
"""

import argparse
import os
import re
import sys

SOURCE_SUFFIXES = (".h", ".hh", ".hpp", ".cc", ".cpp", ".cxx")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*(<[^>]+>|"[^"]+")')

# Headers of libtorch (torch/, and the ATen and c10 headers it is built on).
TORCH = ("torch/", "ATen/", "c10/")


class Rule:
    """Files whose path starts with one of `applies_to` (and none of `exempt`)
    must not include a header starting with one of `forbidden`."""

    def __init__(self, name, applies_to, forbidden, why, exempt=()):
        self.name = name
        self.applies_to = applies_to
        self.forbidden = forbidden
        self.why = why
        self.exempt = exempt

    def applies(self, path):
        return path.startswith(self.applies_to) and not path.startswith(self.exempt)

    def forbids(self, header):
        return header.startswith(self.forbidden)


RULES = [
    Rule("logic-is-pure", ("server/logic/",),
         ("vernier/", "grpcpp/", "grpc/", "google/protobuf/", "sqlite3.h", "server/storage/",
          "server/coordinator/", "server/service/") + TORCH,
         "server/logic is pure: no proto, gRPC, SQLite, storage, coordinator, service or "
         "libtorch headers"),
    Rule("worker-not-client", ("worker/",), ("client/",),
         "worker/ never includes client/ (shared code belongs in common/)"),
    Rule("server-not-trainer", ("server/",), ("trainer/",),
         "server/ never includes trainer/"),
    Rule("cli-not-server", ("client/",), ("server/", "worker/", "trainer/"),
         "the CLI links no server, worker or trainer code: study files become typed specs "
         "through common/spec, and the server does the rest (`vernier importance` alone runs "
         "the pure logic's fANOVA on the trials it lists, until the server answers it)",
         exempt=("client/importance.",)),
    Rule("coordinator-no-grpc", ("server/coordinator/", "server/storage/"),
         ("grpcpp/", "grpc/", "server/service/"),
         "the coordinator and the storage know nothing of gRPC or the services"),
    Rule("common-is-a-leaf", ("common/",), ("server/", "worker/", "client/", "trainer/"),
         "common/ never includes server/, worker/, client/ or trainer/"),
    Rule("metrics-at-the-edges", ("server/logic/", "server/coordinator/", "server/storage/",
                                  "server/schema/", "common/"),
         ("prometheus/",),
         "Prometheus is known only to server/service/metrics.* and worker/worker_metrics.*: "
         "the logic, coordinator and storage report through observer interfaces "
         "(CoordinatorObserver, SqliteStudyStoreObserver), so they are tested without it"),
    Rule("torch-only-in-trainer", ("",), TORCH,
         "only trainer/ and tests/trainer/ include libtorch",
         exempt=("trainer/", "tests/trainer/")),
]

# Directories that must exist under --root: a checker pointed at the wrong
# tree fails instead of finding nothing to complain about.
EXPECTED_DIRS = ("server/logic", "worker", "common")
SKIPPED_DIRS = re.compile(r"^(build.*|\..*|node_modules|vernier-data|data)$")


def source_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        # Build trees and hidden directories are not sources; only skip
        # them at the top and under bench/ (bench/.venv, bench/out).
        if rel_dir in (".", "bench"):
            dirnames[:] = [d for d in dirnames if not SKIPPED_DIRS.match(d) and d != "out"]
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, root).replace(os.sep, "/"), path


def check(root, rules):
    """Returns (number of files read, list of violation messages)."""
    violations = []
    count = 0
    for rel, path in source_files(root):
        applicable = [rule for rule in rules if rule.applies(rel)]
        count += 1
        if not applicable:
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                match = INCLUDE_RE.match(line)
                if not match:
                    continue
                spelled = match.group(1)
                header = spelled[1:-1].strip()
                for rule in applicable:
                    if rule.forbids(header):
                        violations.append(f"{rel}:{lineno}: includes {spelled}: "
                                          f"breaks rule {rule.name}: {rule.why}")
    return count, violations


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--rule", action="append", default=[],
                        help="check only this rule (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the rules and exit")
    args = parser.parse_args(argv)

    if args.list:
        for rule in RULES:
            print(f"{rule.name}: {rule.why}")
        return 0
    by_name = {rule.name: rule for rule in RULES}
    unknown = [name for name in args.rule if name not in by_name]
    if unknown:
        print(f"check_layering: unknown rule(s) {', '.join(unknown)}; --list shows them",
              file=sys.stderr)
        return 2
    rules = [by_name[name] for name in args.rule] or RULES

    root = os.path.abspath(args.root)
    missing = [d for d in EXPECTED_DIRS if not os.path.isdir(os.path.join(root, d))]
    if missing:
        print(f"check_layering: {root} lacks {', '.join(missing)}: not the repository root?",
              file=sys.stderr)
        return 2
    count, violations = check(root, rules)
    for message in violations:
        print(message)
    names = ", ".join(rule.name for rule in rules)
    if violations:
        print(f"check_layering: {len(violations)} include(s) break the layering ({names})",
              file=sys.stderr)
        return 1
    print(f"check_layering: {count} files, no include breaks {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
