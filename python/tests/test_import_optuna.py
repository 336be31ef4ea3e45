"""`vernier import-optuna`: Optuna 3.1 studies in a SQLite storage, made here
with the system's optuna, imported into a real vernier-server and compared
trial by trial (states, parameters, values, intermediate values)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import pathlib
import sqlite3

import pytest

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)

STATES = {"COMPLETE": "COMPLETE", "PRUNED": "PRUNED", "FAIL": "FAILED"}


def _random_objective(trial: "optuna.Trial") -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    units = trial.suggest_int("units", 4, 64, step=4)
    opt = trial.suggest_categorical("opt", ["sgd", "adam", 1, 2.5])
    x = lr * units
    if opt == "sgd":  # define-by-run: momentum exists only for sgd
        x += trial.suggest_float("momentum", 0.5, 0.99)
    for step in range(3):
        value = x / (step + 1)
        if trial.number == 1 and step == 1:
            value = float("nan")
        if trial.number == 2 and step == 2:
            value = float("-inf")
        trial.report(value, step)
    if trial.number == 3:
        raise optuna.TrialPruned()
    if trial.number == 5:
        raise RuntimeError("diverged")
    return x


def _make_storage(path: pathlib.Path) -> str:
    url = f"sqlite:///{path}"
    rand = optuna.create_study(study_name="rand", storage=url,
                               sampler=optuna.samplers.RandomSampler(seed=3))
    # Make sure both branches of the categorical come up.
    rand.enqueue_trial({"opt": "sgd"})
    rand.enqueue_trial({"opt": "adam"})
    rand.optimize(_random_objective, n_trials=10, catch=(RuntimeError,))

    tpe = optuna.create_study(study_name="tpe", storage=url, direction="maximize",
                              sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=3))
    tpe.optimize(lambda t: -(t.suggest_float("x", -2.0, 2.0) ** 2) + t.suggest_int("n", 1, 5)
                 + t.suggest_float("d", 0.0, 0.5, step=0.05), n_trials=8)

    mo = optuna.create_study(study_name="mo", storage=url, directions=["minimize", "maximize"],
                             sampler=optuna.samplers.RandomSampler(seed=5))
    mo.optimize(lambda t: (t.suggest_float("a", 0.0, 1.0), t.suggest_int("b", 0, 10) * 0.5),
                n_trials=5)
    mo.ask()  # left RUNNING: skipped
    return url


@pytest.fixture
def storage(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "optuna.db"
    _make_storage(path)
    return path


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _vernier_trials(server, study: str) -> list:
    return json.loads(server.cli("trials", study, "--format", "json").stdout)


def _vernier_intermediate(server, study: str, tmp_path: pathlib.Path) -> dict:
    """{trial number: {step: value}} from the CSV export, which keeps nan and inf."""
    out = tmp_path / f"{study}.csv"
    steps = tmp_path / f"{study}-steps.csv"
    server.cli("study", "export", study, "--format", "csv", "-o", str(out),
               "--intermediate", str(steps))
    curves: dict = {}
    for row in csv.DictReader(io.StringIO(steps.read_text())):
        assert row["metric"] == "value"
        curves.setdefault(int(row["number"]), {})[int(row["step"])] = float(row["value"])
    return curves


def _same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _check_study(server, study_name: str, vernier_name: str, url: str,
                 tmp_path: pathlib.Path) -> None:
    study = optuna.load_study(study_name=study_name, storage=url)
    finished = [t for t in study.trials if t.state.name in STATES]
    got = _vernier_trials(server, vernier_name)
    curves = _vernier_intermediate(server, vernier_name, tmp_path)
    assert len(got) == len(finished)
    multi = len(study.directions) > 1
    for number, (want, have) in enumerate(zip(finished, got)):
        assert have["number"] == number
        assert have["state"] == STATES[want.state.name], (number, have)
        assert have["origin"] == "enqueued"
        # Params: same names, same values, same types (ints stay ints).
        assert have["params"] == want.params, number
        for name, value in want.params.items():
            assert type(have["params"][name]) is type(value), (number, name)
        if want.state.name == "COMPLETE":
            if multi:
                assert have["final_metrics"] == {
                    f"value_{i}": v for i, v in enumerate(want.values)}
            else:
                assert have["final_metrics"] == {"value": want.value}
        else:
            assert have["final_metrics"] == {}
        if want.state.name == "FAIL":
            assert have["failure_reason"] == "imported from Optuna: FAIL"
        curve = curves.get(number, {})
        assert sorted(curve) == sorted(want.intermediate_values), number
        for step, value in want.intermediate_values.items():
            assert _same_number(curve[step], value), (number, step, curve[step], value)


def test_imports_every_study_exactly(vernier_server, storage, tmp_path):
    url = f"sqlite:///{storage}"
    before = _digest(storage)
    result = vernier_server.cli("import-optuna", url)
    lines = [line for line in result.stdout.splitlines() if not line.startswith("  ")]
    assert lines == [
        'imported optuna study "rand" as "rand": 10 trials (8 COMPLETE, 1 PRUNED, 1 FAILED)',
        'imported optuna study "tpe" as "tpe": 8 trials (8 COMPLETE, 0 PRUNED, 0 FAILED)',
        'imported optuna study "mo" as "mo": 5 trials (5 COMPLETE, 0 PRUNED, 0 FAILED), '
        'skipped 1 RUNNING',
    ], result.stdout
    assert _digest(storage) == before, "the Optuna storage must not be written"

    for name in ("rand", "tpe", "mo"):
        _check_study(vernier_server, name, name, url, tmp_path)

    # The study: objectives and directions, sampler, room for 100 more trials.
    rand = json.loads(vernier_server.cli("study", "show", "rand", "--format", "json").stdout)
    assert rand["max_trials"] == 10 + 100
    assert rand["objective"] == {"metric": "value", "goal": "minimize"}
    assert rand["state"] == "ACTIVE"
    assert json.loads(vernier_server.cli("study", "show", "tpe", "--format", "json").stdout)[
        "objective"] == {"metric": "value", "goal": "maximize"}
    mo = json.loads(vernier_server.cli("study", "show", "mo", "--format", "json").stdout)
    assert mo["objectives"] == [{"metric": "value_0", "goal": "minimize"},
                                {"metric": "value_1", "goal": "maximize"}]

    # The conditional parameter became a `when` on its categorical parent.
    export = json.loads(vernier_server.cli("study", "export", "rand", "--format", "json").stdout)
    study_file = json.loads(export["study"]["spec_yaml"])  # JSON is YAML too
    assert study_file["params"]["momentum"]["when"] == {"opt": ["sgd"]}
    assert study_file["params"]["opt"] == {"type": "categorical", "values": ["sgd", "adam", 1, 2.5]}
    assert study_file["params"]["lr"] == {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}
    assert study_file["params"]["units"] == {"type": "int", "low": 4, "high": 64, "step": 4}
    assert study_file["sampler"] == {"type": "tpe"}
    assert study_file["pruner"] == {"type": "none"}
    assert study_file["trainer"] == {"external": True}

    mo_file = json.loads(json.loads(vernier_server.cli(
        "study", "export", "mo", "--format", "json").stdout)["study"]["spec_yaml"])
    assert mo_file["sampler"] == {"type": "nsga2"}
    tpe_file = json.loads(json.loads(vernier_server.cli(
        "study", "export", "tpe", "--format", "json").stdout)["study"]["spec_yaml"])
    assert tpe_file["params"]["d"] == {"type": "float", "low": 0.0, "high": 0.5, "step": 0.05}

    # Continue with ask/tell: the next trial is sampled by TPE in the same space.
    asked = json.loads(vernier_server.cli("ask", "rand").stdout)
    assert asked["trial"] == 10
    assert set(asked["params"]) >= {"lr", "units", "opt"}
    assert 1e-5 <= asked["params"]["lr"] <= 1e-1
    assert asked["params"]["units"] % 4 == 0
    assert asked["params"]["opt"] in ("sgd", "adam", 1, 2.5)
    assert ("momentum" in asked["params"]) == (asked["params"]["opt"] == "sgd")
    vernier_server.cli("tell", "rand", "10", "--value", "0.5")


def test_one_study_under_a_new_name(vernier_server, storage, tmp_path):
    result = vernier_server.cli("import-optuna", str(storage), "--study", "tpe", "--as", "tpe2",
                                "--max-trials", "5")
    assert result.stdout.splitlines()[0] == (
        'imported optuna study "tpe" as "tpe2": 8 trials (8 COMPLETE, 0 PRUNED, 0 FAILED)')
    _check_study(vernier_server, "tpe", "tpe2", f"sqlite:///{storage}", tmp_path)
    show = json.loads(vernier_server.cli("study", "show", "tpe2", "--format", "json").stdout)
    assert show["max_trials"] == 8 + 5
    names = [s["name"] for s in json.loads(
        vernier_server.cli("study", "list", "--format", "json").stdout)]
    assert names == ["tpe2"]

    # A new study warm-started from the imported one learns from its 8 trials.
    new_file = tmp_path / "new.yaml"
    new_file.write_text(json.dumps({
        "name": "tpe-next", "objective": {"metric": "value", "goal": "maximize"},
        "params": {"x": {"type": "float", "low": -2.0, "high": 2.0},
                   "n": {"type": "int", "low": 1, "high": 5},
                   "d": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.05}},
        "sampler": {"type": "tpe"}, "budget": {"max_trials": 3},
        "trainer": {"external": True}, "warm_start": {"study": "tpe2"}}))
    created = vernier_server.cli("study", "create", "-f", str(new_file))
    assert "copied 8 COMPLETE trials" in created.stdout + created.stderr


def test_union_of_distributions_is_noted(vernier_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    study = optuna.create_study(study_name="grow", storage=url)
    for high in (1.0, 5.0):
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, high)
        study.tell(trial, x)
    result = vernier_server.cli("import-optuna", url)
    assert "distribution differs across trials; using the union float [0, 5]" in result.stdout
    _check_study(vernier_server, "grow", "grow", url, tmp_path)


def test_importing_twice_is_already_exists(vernier_server, storage):
    vernier_server.cli("import-optuna", str(storage), "--study", "tpe")
    again = vernier_server.cli("import-optuna", str(storage), "--study", "tpe", check=False)
    assert again.returncode == 1
    assert 'study "tpe" already exists' in again.stderr
    assert "--as" in again.stderr


def test_missing_file(vernier_server, tmp_path):
    missing = tmp_path / "nope.db"
    result = vernier_server.cli("import-optuna", f"sqlite:///{missing}", check=False)
    assert result.returncode == 1
    assert f"{missing}: no such file" in result.stderr
    assert not missing.exists()


def test_unknown_study(vernier_server, storage):
    result = vernier_server.cli("import-optuna", str(storage), "--study", "nope", check=False)
    assert result.returncode == 1
    assert 'no Optuna study "nope"' in result.stderr
    assert '"rand", "tpe", "mo"' in result.stderr
    assert json.loads(vernier_server.cli("study", "list", "--format", "json").stdout) == []


def test_not_an_optuna_storage(vernier_server, tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE things (id INTEGER)")
    result = vernier_server.cli("import-optuna", str(other), check=False)
    assert result.returncode == 2
    assert f'{other}: not an Optuna storage: no table "studies"' in result.stderr

    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database\n" * 100)
    result = vernier_server.cli("import-optuna", str(text), check=False)
    assert result.returncode == 2
    assert f"{text}: cannot read it as a SQLite database" in result.stderr


def test_other_storage_schemes_are_refused(vernier_server):
    result = vernier_server.cli("import-optuna", "mysql://user@host/db", check=False)
    assert result.returncode == 2
    assert "only SQLite storages" in result.stderr
