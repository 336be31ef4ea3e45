"""The Python client against a real vernier-server: studies, ask/tell/report,
optimize (threads, processes, pruning, failures, a server killed with
kill -9), paged results and bad input."""
from __future__ import annotations

import threading
import time

import pytest

import vernier


def quadratic_study(name: str, max_trials: int = 30, pruner: dict = None) -> dict:
    return {
        "name": name,
        "objective": {"metric": "loss", "goal": "minimize"},
        "params": {
            "x": {"type": "float", "low": -5.0, "high": 5.0},
            "kind": {"type": "categorical", "values": ["a", "b"]},
            "n": {"type": "int", "low": 1, "high": 8},
        },
        "sampler": {"type": "random", "seed": 3},
        "pruner": pruner or {"type": "none"},
        "budget": {"max_trials": max_trials},
        "trainer": {"external": True},
    }


def quadratic(trial: "vernier.Trial") -> float:
    """Module level so that optimize(processes=True) can pickle it."""
    return (trial.params["x"] - 1.0) ** 2 + trial.params["n"]


@pytest.fixture
def client(vernier_server):
    with vernier.connect(vernier_server.address, retry_timeout=30) as c:
        yield c


def test_create_from_dict_yaml_text_and_file(client, tmp_path):
    from_dict = client.create_study(quadratic_study("from-dict"))
    assert from_dict.name == "from-dict" and from_dict.state == "ACTIVE"
    assert from_dict.direction == "minimize" and from_dict.max_trials == 30
    yaml_text = ("name: from-text\nobjective: {metric: acc, goal: maximize}\n"
                 "params:\n  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}\n"
                 "budget: {max_trials: 5}\ntrainer: {external: true}\n")
    assert client.create_study(yaml_text).metric == "acc"
    path = tmp_path / "study.yaml"
    path.write_text(yaml_text.replace("from-text", "from-file"))
    assert client.create_study(path).name == "from-file"
    assert client.create_study(str(path), exist_ok=True).name == "from-file"
    assert [s.name for s in client.list_studies()] == ["from-dict", "from-text", "from-file"]
    assert client.get_study("from-text").objectives == [("acc", "maximize")]
    assert client.stop_study("from-text").state == "STOPPED"


def test_exclude_a_trial_then_delete_the_study(client):
    study = client.create_study(quadratic_study("lifecycle"))
    for value in (0.5, 0.1):
        trial = study.ask()
        study.tell(trial, value)
    assert study.best_trial.number == 1
    excluded = study.exclude_trial(1, "label noise")
    assert excluded.excluded and excluded.exclusion_reason == "label noise"
    assert study.best_trial.number == 0
    assert not study.exclude_trial(1, include=True).excluded
    running = study.ask()
    with pytest.raises(vernier.FailedPreconditionError, match="running trial"):
        client.delete_study("lifecycle")
    assert client.delete_study("lifecycle", force=True) == 3
    assert "lifecycle" not in [s.name for s in client.list_studies()]
    with pytest.raises(vernier.NotFoundError):
        study.tell(running, 0.2)


def test_ask_report_tell_with_pruning(client):
    study = client.create_study(quadratic_study(
        "asktell", pruner={"type": "threshold", "upper": 10.0}))
    trial = study.ask()
    assert set(trial.params) == {"x", "kind", "n"}
    assert isinstance(trial.params["n"], int) and isinstance(trial.params["kind"], str)
    assert trial.report(0, 3.0, accuracy=0.5) is False
    told = study.tell(trial, 2.5, metrics={"accuracy": 0.7})
    assert told.state == "COMPLETE" and told.value == 2.5
    assert told.final_metrics["accuracy"] == 0.7
    assert study.get_trial(trial.number).measurements == {0: {"loss": 3.0, "accuracy": 0.5}}

    pruned = study.ask()
    assert pruned.report(0, 50.0) is True and pruned.should_prune()
    assert study.tell(pruned, state="PRUNED").state == "PRUNED"
    with pytest.raises(vernier.FailedPreconditionError, match=f"trial {pruned.number}"):
        study.tell(pruned, 1.0)

    failed = study.ask()
    assert study.tell(failed, state="FAILED", failure_reason="out of memory").failure_reason == \
        "out of memory"
    assert study.refresh().trial_counts == {"COMPLETE": 1, "PRUNED": 1, "FAILED": 1}
    assert study.best_trial.number == trial.number and study.best_value == 2.5


def test_optimize_in_threads_prunes_and_records_failures(client):
    study = client.create_study(quadratic_study(
        "optimize", max_trials=40, pruner={"type": "threshold", "upper": 20.0}))

    def objective(trial):
        if trial.params["kind"] == "b" and trial.params["n"] == 8:
            raise RuntimeError("a bug in the objective")
        value = quadratic(trial)
        for step in range(3):
            if trial.report(step, value * (3 - step)):
                raise vernier.TrialPruned()
        return value

    ran = study.optimize(objective, n_trials=25, n_jobs=4)
    assert ran == 25
    trials = list(study.trials)
    assert len(trials) == 25
    states = {t.state for t in trials}
    assert states <= {"COMPLETE", "PRUNED", "FAILED"} and "PRUNED" in states
    for t in trials:
        if t.state == "FAILED":
            assert "RuntimeError: a bug in the objective" in t.failure_reason
            assert "Traceback" in t.failure_reason
        if t.state == "COMPLETE":
            assert t.value == pytest.approx((t.params["x"] - 1.0) ** 2 + t.params["n"])
    # The budget ends a second optimize: 15 trials left of 40.
    assert study.optimize(objective, n_jobs=2) == 15
    assert study.refresh().state == "COMPLETED"


def test_optimize_in_processes(client):
    study = client.create_study(quadratic_study("processes", max_trials=12))
    assert study.optimize(quadratic, n_trials=12, n_jobs=2, processes=True) == 12
    assert study.refresh().trial_counts == {"COMPLETE": 12}


def test_optimize_survives_a_server_killed_with_kill_9(vernier_server, client):
    study = client.create_study(quadratic_study("survives", max_trials=200))
    told = []
    lock = threading.Lock()

    def objective(trial):
        time.sleep(0.01)
        value = quadratic(trial)
        with lock:
            told.append((trial.number, value))
        return value

    result = {}
    runner = threading.Thread(target=lambda: result.update(
        ran=study.optimize(objective, n_trials=150, n_jobs=2)))
    runner.start()
    while len(told) < 40:
        time.sleep(0.01)
    vernier_server.kill9()
    time.sleep(1.0)
    vernier_server.start()
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert result["ran"] == 150
    stored = {t.number: t for t in study.trials}
    for number, value in told:  # nothing told is lost
        assert stored[number].state == "COMPLETE" and stored[number].value == value
    assert sum(t.state == "COMPLETE" for t in stored.values()) == 150


def test_trials_page_lazily_and_make_a_dataframe(client):
    study = client.create_study(quadratic_study("paged", max_trials=30))
    study.optimize(quadratic, n_trials=30)
    numbers = [t.number for t in study.iter_trials(page_size=7)]
    assert numbers == list(range(30))
    best_first = [t.value for t in study.iter_trials(order_by="objective", page_size=4)]
    assert best_first == sorted(best_first)
    assert [t.intermediate_values for t in study.iter_trials(include_intermediate=False)] == \
        [{}] * 30
    frame = study.trials_dataframe()
    assert len(frame) == 30 and {"params_x", "params_kind", "value", "state"} <= set(frame.columns)
    assert frame["value"].min() == study.best_value
    exported = study.export()
    assert exported["study"]["name"] == "paged" and len(exported["trials"]) == 30


def test_enqueue_runs_given_params_first(client):
    study = client.create_study(quadratic_study("enqueue", max_trials=5))
    study.enqueue({"x": 1.0, "kind": "a", "n": 2})
    trial = study.ask()
    assert trial.params == {"x": 1.0, "kind": "a", "n": 2}


def test_bad_input_raises_errors_that_name_the_problem(client):
    with pytest.raises(vernier.NotFoundError, match="no-such-study"):
        client.get_study("no-such-study")
    bad = quadratic_study("bad")
    bad["params"]["x"]["low"] = 10.0
    with pytest.raises(vernier.InvalidArgumentError, match=r"params\.x"):
        client.create_study(bad)
    study = client.create_study(quadratic_study("inputs"))
    with pytest.raises(vernier.AlreadyExistsError):
        client.create_study(quadratic_study("inputs"))
    with pytest.raises(vernier.InvalidArgumentError, match="params.n"):
        study.enqueue({"n": 2.5})
    trial = study.ask()
    with pytest.raises(vernier.InvalidArgumentError, match="metrics.loss"):
        trial.report(1, loss="high")
    with pytest.raises(vernier.InvalidArgumentError, match="state"):
        study.tell(trial, state="DONE")
    with pytest.raises(vernier.NotFoundError, match="trial 999"):
        study.tell(999, 1.0)
    with pytest.raises(vernier.InvalidArgumentError, match="objective"):
        study.tell(trial)  # COMPLETE without a value
    with pytest.raises(vernier.UnavailableError):
        vernier.connect("127.0.0.1:1", retry_timeout=0.5).list_studies()
