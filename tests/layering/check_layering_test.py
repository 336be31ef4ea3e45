#!/usr/bin/env python3
"""Tests of check_layering.py on tiny trees written here, so the checker
cannot pass the real tree by finding nothing (a broken pattern, a wrong root
or a skipped directory would make these fail)."""

import contextlib
import io
import os
import tempfile
import unittest

import check_layering

# The smallest tree check_layering accepts as a repository.
CLEAN_TREE = {
    "server/logic/sampler.h": '#include "absl/status/status.h"\n#include "common/status_macros.h"\n',
    "server/service/services.cc": '#include "grpcpp/grpcpp.h"\n#include "server/logic/sampler.h"\n',
    "server/service/metrics.cc": '#include "prometheus/registry.h"\n',
    "worker/worker.cc": '#include "common/channel.h"\n#include <vector>\n',
    "common/channel.h": '#include "grpcpp/grpcpp.h"\n',
    "trainer/models.h": "#include <torch/torch.h>\n",
    "tests/trainer/models_test.cc": '#include "trainer/models.h"\n#include <torch/torch.h>\n',
    "tests/server/logic/sampler_test.cc": '#include "server/storage/memory_study_store.h"\n',
    # Not sources: never read.
    "server/logic/notes.txt": '#include "grpcpp/grpcpp.h"\n',
    "build/server/logic/gen.h": '#include "vernier/v1/study.pb.h"\n',
}

# One violation per rule: (path, text, rule name, line).
VIOLATIONS = [
    ("server/logic/a.cc", '#include "vernier/v1/study.pb.h"\n', "logic-is-pure", 1),
    ("server/logic/b.h", '// pure\n#include <grpcpp/grpcpp.h>\n', "logic-is-pure", 2),
    ("server/logic/c.cc", '#include <sqlite3.h>\n', "logic-is-pure", 1),
    ("server/logic/d.cc", '  #  include "server/storage/study_store.h"\n', "logic-is-pure", 1),
    ("server/logic/e.cc", '#include "server/coordinator/coordinator.h"\n', "logic-is-pure", 1),
    ("server/logic/f.cc", '#include "server/service/services.h"\n', "logic-is-pure", 1),
    ("server/logic/g.cc", '#include "torch/torch.h"\n', "logic-is-pure", 1),
    ("worker/main.cc", '#include "client/channel.h"\n', "worker-not-client", 1),
    ("server/main.cc", '#include "trainer/options.h"\n', "server-not-trainer", 1),
    ("client/main.cc", '#include "server/schema/study_schema.h"\n', "cli-not-server", 1),
    ("client/run.cc", '#include "worker/slots.h"\n', "cli-not-server", 1),
    ("server/coordinator/study.cc", '#include <grpcpp/grpcpp.h>\n', "coordinator-no-grpc", 1),
    ("server/storage/s.cc", '#include "server/service/services.h"\n', "coordinator-no-grpc", 1),
    ("common/x.cc", '#include "server/logic/types.h"\n', "common-is-a-leaf", 1),
    ("common/y.h", '#include "worker/slots.h"\n', "common-is-a-leaf", 1),
    ("common/z.h", '#include "client/format.h"\n', "common-is-a-leaf", 1),
    ("common/w.h", '#include "trainer/options.h"\n', "common-is-a-leaf", 1),
    ("server/coordinator/m.cc", '#include "prometheus/counter.h"\n', "metrics-at-the-edges", 1),
    ("server/storage/m.h", '#include <prometheus/histogram.h>\n', "metrics-at-the-edges", 1),
    ("worker/slots.cc", '#include <ATen/ATen.h>\n', "torch-only-in-trainer", 1),
    ("tests/server/t.cc", '#include <c10/util/Exception.h>\n', "torch-only-in-trainer", 1),
    ("bench/x/b.cc", '#include "torch/script.h"\n', "torch-only-in-trainer", 1),
]


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def run(root, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = check_layering.main(["--root", root, *args])
    return status, out.getvalue(), err.getvalue()


class CheckLayeringTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        write_tree(self.root, CLEAN_TREE)

    def tearDown(self):
        self.tmp.cleanup()

    def test_clean_tree_passes(self):
        status, out, _ = run(self.root)
        self.assertEqual(status, 0, out)
        self.assertIn("8 files", out)

    def test_each_violation_names_file_line_and_rule(self):
        for path, text, rule, line in VIOLATIONS:
            with self.subTest(path=path):
                write_tree(self.root, {path: text})
                status, out, _ = run(self.root)
                self.assertEqual(status, 1)
                self.assertIn(f"{path}:{line}: includes ", out)
                self.assertIn(f"breaks rule {rule}", out)
                os.remove(os.path.join(self.root, path))

    def test_every_rule_is_exercised_here(self):
        self.assertEqual({rule.name for rule in check_layering.RULES},
                         {rule for _, _, rule, _ in VIOLATIONS})

    def test_rule_option_checks_only_that_rule(self):
        write_tree(self.root, {"worker/main.cc": '#include "client/channel.h"\n'})
        self.assertEqual(run(self.root, "--rule", "logic-is-pure")[0], 0)
        self.assertEqual(run(self.root, "--rule", "worker-not-client")[0], 1)

    def test_unknown_rule_is_an_error(self):
        self.assertEqual(run(self.root, "--rule", "no-such-rule")[0], 2)

    def test_wrong_root_is_an_error(self):
        status, _, err = run(os.path.join(self.root, "server"))
        self.assertEqual(status, 2)
        self.assertIn("not the repository root", err)


if __name__ == "__main__":
    unittest.main()
