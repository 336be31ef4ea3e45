"""`pip install ./python` works offline on Debian 12's Python: in a virtual
environment that sees Debian's grpcio and protobuf, the stubs are generated
while building and the installed package talks to a real server."""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_pip_install_into_a_venv_then_use_it(vernier_server, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index",
                              str(REPO / "python")], capture_output=True, text=True, timeout=300,
                             cwd=tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    code = ("import vernier, sys; c = vernier.connect(sys.argv[1]);"
            "s = c.create_study({'name': 'pip', 'objective': {'metric': 'y'},"
            " 'params': {'x': {'type': 'int', 'low': 0, 'high': 3}},"
            " 'budget': {'max_trials': 4}, 'trainer': {'external': True}});"
            "print(s.optimize(lambda t: t.params['x'], n_trials=4), s.best_value,"
            " vernier.__file__)")
    # Run from tmp_path so that the checkout's python/ is not importable.
    used = subprocess.run([str(venv / "bin" / "python"), "-c", code, vernier_server.address],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin"})
    assert used.returncode == 0, used.stderr
    ran, best, where = used.stdout.split()
    assert (ran, best) == ("4", "3.0") or (ran, best) == ("4", "3")
    assert where.startswith(str(venv))
