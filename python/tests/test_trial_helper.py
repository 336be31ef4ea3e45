"""The trial helper (`vernier.trial`) in scripts run by a real vernier-worker:
params in, reports out, a prune honoured through should_stop, exit codes;
and the same script run by hand with its defaults."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import vernier

SCRIPT = textwrap.dedent("""
    import sys, time
    from vernier import trial

    p = trial.params(defaults={"x": 0.5, "steps": 4, "crash": "no", "marker": "stopped.txt"})
    assert isinstance(p["steps"], int), p
    if p.get("crash") == "yes":
        raise SystemExit("crashing on purpose")
    loss = (p["x"] - 0.3) ** 2
    for step in range(1, p["steps"] + 1):
        if trial.report(step, loss=loss + 10.0 / step, other=step):
            with open(p["marker"], "a") as f:  # proof of a clean stop
                f.write(f"{trial.number()} stopped cleanly at {step}\\n")
            sys.exit(0)
        time.sleep(0.3 if loss > 1.0 else 0.01)
    trial.finish(loss=loss)
""")


def wait_until_done(client, name, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        study = client.get_study(name)
        if study.state != "ACTIVE":
            return study
        time.sleep(0.2)
    raise AssertionError(f"study {name} still ACTIVE after {timeout} s: {study.trial_counts}")


def test_script_under_a_worker(vernier_server, python_env, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    client = vernier.connect(vernier_server.address)
    client.create_study({
        "name": "helper",
        "objective": {"metric": "loss", "goal": "minimize"},
        "params": {"x": {"type": "float", "low": -3.0, "high": 3.0},
                   "crash": {"type": "categorical", "values": ["no", "no", "no", "yes"]}},
        "sampler": {"type": "random", "seed": 5},
        # Anything above 2 at step >= 2 stops: the far-off x values.
        "pruner": {"type": "threshold", "upper": 6.0, "warmup_steps": 2},
        "budget": {"max_trials": 12, "parallel": 2, "max_failures": 12},
        "trainer": {"command": [sys.executable, str(script)], "steps": 6, "stop_grace": 20,
                    "marker": str(tmp_path / "stopped.txt")},
    })
    vernier_server.start_worker(slots=2, env=python_env)
    study = wait_until_done(client, "helper")
    trials = list(study.trials)
    assert len(trials) == 12
    for t in trials:
        loss = (t.params["x"] - 0.3) ** 2
        if t.params["crash"] == "yes":
            assert t.state == "FAILED" and "crashing on purpose" in t.failure_reason
        elif t.state == "COMPLETE":
            assert t.value == loss
            assert sorted(t.measurements) == [1, 2, 3, 4, 5, 6]  # steps: the study's setting
            assert t.measurements[2] == {"loss": loss + 5.0, "other": 2.0}
        else:
            assert t.state == "PRUNED", t.failure_reason
            assert loss + 10.0 / max(t.measurements) > 6.0
    assert {t.state for t in trials} >= {"COMPLETE", "PRUNED"}
    # A pruned script saw should_stop and exited by itself, well within the
    # 20 s grace (so not killed).
    # The study ends when its last trial is judged, which can be before that
    # trial's script has seen the stop: wait for the stragglers.
    pruned = {t.number for t in trials if t.state == "PRUNED"}
    marker = tmp_path / "stopped.txt"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and stopped_cleanly(marker) != pruned:
        time.sleep(0.1)
    assert stopped_cleanly(marker) == pruned


def stopped_cleanly(marker):
    """The trials whose script wrote its clean-stop line."""
    if not marker.exists():
        return set()
    return {int(line.split()[0]) for line in marker.read_text().splitlines()}


def test_same_script_runs_by_hand_with_its_defaults(python_env, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("VERNIER_")}
    result = subprocess.run([sys.executable, str(script)], env={**env, **python_env},
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line.split("vernier.trial: ", 1)[1])
             for line in result.stderr.splitlines() if "vernier.trial: " in line]
    assert lines[0] == {"step": 1, "metrics": {"loss": 0.04 + 10.0, "other": 1.0}}
    assert lines[-1] == {"final": True, "metrics": {"loss": (0.5 - 0.3) ** 2}}
    assert len(lines) == 5


def test_helper_refuses_bad_reports(python_env, tmp_path):
    code = textwrap.dedent("""
        from vernier import trial
        for bad in [lambda: trial.report(-1, loss=1.0), lambda: trial.report(1),
                    lambda: trial.report(1, loss="x")]:
            try:
                bad()
            except (ValueError, TypeError) as e:
                print(type(e).__name__, e)
    """)
    result = subprocess.run([sys.executable, "-c", code], env=python_env, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.splitlines() == [
        "ValueError step: expected an int >= 0, got -1",
        "ValueError no metrics given: pass them as keywords, e.g. report(3, val_loss=0.4)",
        "TypeError metric 'loss': expected a number, got str 'x'",
    ]
