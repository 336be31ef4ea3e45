"""A client of ``vernier-server``: studies, ask/tell, ``optimize``, results.

    import vernier

    client = vernier.connect("127.0.0.1:50051")
    study = client.create_study({"name": "demo", "objective": {"metric": "loss",
                                 "goal": "minimize"}, "params": {...},
                                 "trainer": {"external": True}})

    def objective(trial):
        x = trial.params["x"]
        for step in range(10):
            if trial.report(step, (x - 2) ** 2 + 1 / (step + 1)):
                raise vernier.TrialPruned()
        return (x - 2) ** 2

    study.optimize(objective, n_trials=50, n_jobs=4)
    print(study.best_trial.params)

Every call retries while the server is unreachable (UNAVAILABLE), with
exponential backoff, for up to ``retry_timeout`` seconds, so a loop survives
a server restart. Errors the server answers raise ``VernierError`` subclasses
that carry the server's message (it names the field, the value, the trial).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import json
import logging
import math
import multiprocessing
import os
import pathlib
import random
import threading
import time
import traceback
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import grpc
from google.protobuf import json_format

from vernier import exceptions
from vernier.exceptions import TrialPruned, VernierError
from vernier.v1 import study_pb2, study_service_pb2, study_service_pb2_grpc

__all__ = ["Client", "FrozenTrial", "Study", "Trial", "connect"]

_log = logging.getLogger("vernier")

_STATE_NAMES = {
    study_pb2.TRIAL_STATE_WAITING: "WAITING",
    study_pb2.TRIAL_STATE_RUNNING: "RUNNING",
    study_pb2.TRIAL_STATE_COMPLETE: "COMPLETE",
    study_pb2.TRIAL_STATE_PRUNED: "PRUNED",
    study_pb2.TRIAL_STATE_FAILED: "FAILED",
    study_pb2.TRIAL_STATE_INFEASIBLE: "INFEASIBLE",
}
_STATES_BY_NAME = {name: value for value, name in _STATE_NAMES.items()}
_STUDY_STATE_NAMES = {
    study_pb2.STUDY_STATE_ACTIVE: "ACTIVE",
    study_pb2.STUDY_STATE_STOPPED: "STOPPED",
    study_pb2.STUDY_STATE_COMPLETED: "COMPLETED",
}
_ERRORS_BY_CODE = {
    grpc.StatusCode.NOT_FOUND: exceptions.NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: exceptions.InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: exceptions.FailedPreconditionError,
    grpc.StatusCode.ALREADY_EXISTS: exceptions.AlreadyExistsError,
    grpc.StatusCode.UNAUTHENTICATED: exceptions.UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: exceptions.UnauthenticatedError,
    grpc.StatusCode.UNAVAILABLE: exceptions.UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: exceptions.UnavailableError,
}
# Codes a call is retried on: the server is restarting or unreachable.
_RETRIED = (grpc.StatusCode.UNAVAILABLE,)
# Trials read per ListTrials page: well under gRPC's default 4 MiB answer.
_PAGE_SIZE = 500

Params = Dict[str, Union[float, int, str]]


def _error(e: grpc.RpcError) -> VernierError:
    code = e.code()
    kind = _ERRORS_BY_CODE.get(code, VernierError)
    return kind(e.details() or str(code), code.name)


def _param_value(value: Any) -> study_pb2.ParameterValue:
    if isinstance(value, bool):
        return study_pb2.ParameterValue(string_value="true" if value else "false")
    if isinstance(value, int):
        return study_pb2.ParameterValue(int_value=value)
    if isinstance(value, float):
        return study_pb2.ParameterValue(double_value=value)
    if isinstance(value, str):
        return study_pb2.ParameterValue(string_value=value)
    raise exceptions.InvalidArgumentError(
        f"params: expected a number or a string, got {type(value).__name__} {value!r}")


def _python_value(value: study_pb2.ParameterValue) -> Union[float, int, str]:
    kind = value.WhichOneof("kind")
    return getattr(value, kind) if kind else None


def _time(unix_ms: int) -> Optional[datetime.datetime]:
    if not unix_ms:
        return None
    return datetime.datetime.fromtimestamp(unix_ms / 1000.0, tz=datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class FrozenTrial:
    """A trial as the server stored it (Optuna's ``FrozenTrial``).

    ``value`` is the (first) objective's value; ``values`` every objective's,
    in the study's order (NaN where not reported). ``intermediate_values``
    maps step -> the objective's value at that step; ``measurements`` has
    every metric per step (empty when read with ``include_intermediate=False``).
    """

    number: int
    state: str
    params: Params
    value: Optional[float]
    values: List[float]
    final_metrics: Dict[str, float]
    intermediate_values: Dict[int, float]
    measurements: Dict[int, Dict[str, float]]
    failure_reason: str
    datetime_start: Optional[datetime.datetime]
    datetime_complete: Optional[datetime.datetime]
    worker_id: str
    origin: str
    retries: int
    excluded: bool = False
    exclusion_reason: str = ""

    @classmethod
    def from_proto(cls, trial: study_pb2.Trial, objective_metric: str) -> "FrozenTrial":
        measurements = {m.step: dict(m.metrics) for m in trial.intermediate}
        return cls(
            number=trial.number,
            state=_STATE_NAMES.get(trial.state, "UNSPECIFIED"),
            params={name: _python_value(v) for name, v in sorted(trial.params.items())},
            value=trial.objective_value if trial.HasField("objective_value") else None,
            values=list(trial.objective_values),
            final_metrics=dict(trial.final_metrics),
            intermediate_values={step: metrics[objective_metric]
                                 for step, metrics in measurements.items()
                                 if objective_metric in metrics},
            measurements=measurements,
            failure_reason=trial.failure_reason,
            datetime_start=_time(trial.start_time_unix_ms),
            datetime_complete=_time(trial.end_time_unix_ms),
            worker_id=trial.worker_id,
            origin=trial.origin,
            retries=trial.retries,
            excluded=trial.excluded,
            exclusion_reason=trial.exclusion_reason,
        )


class Client:
    """A connection to one ``vernier-server``. Thread-safe; use one per
    process (``connect`` makes it). Closing it (or leaving its ``with``
    block) closes the channel."""

    def __init__(self, server: str, *, token: Optional[str] = None,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 retry_timeout: float = 60.0, connect_args: Optional[dict] = None):
        self.server = server
        self.retry_timeout = retry_timeout
        # Kept so that `optimize` can reconnect from other processes.
        self._connect_args = dict(connect_args or {"server": server, "token": token})
        # Reconnect within a second of a restarted server (gRPC's default
        # backoff grows to two minutes).
        options = [("grpc.max_receive_message_length", 16 * 1024 * 1024),
                   ("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000)]
        if credentials is not None:
            self._channel = grpc.secure_channel(server, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(server, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._stub = study_service_pb2_grpc.StudyServiceStub(self._channel)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def call(self, method: str, request: Any, *, timeout: float = 30.0) -> Any:
        """Calls a StudyService method, retrying while the server is
        unreachable; raises a ``VernierError`` for any other error."""
        rpc = getattr(self._stub, method)
        deadline = time.monotonic() + self.retry_timeout
        delay = 0.05
        while True:
            try:
                return rpc(request, timeout=timeout, metadata=self._metadata)
            except grpc.RpcError as e:
                if e.code() not in _RETRIED or time.monotonic() + delay > deadline:
                    raise _error(e) from None
                _log.info("vernier: %s: server unavailable (%s); retrying in %.2f s", method,
                          e.details(), delay)
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 2.0)

    # Studies.

    def create_study(self, spec: Union[str, os.PathLike, Mapping[str, Any]], *,
                     exist_ok: bool = False) -> "Study":
        """Creates a study from a study file's path, its YAML text, or a dict
        of the same structure. With ``exist_ok``, a study of that name that
        exists already is returned instead of raising ``AlreadyExistsError``.
        """
        text = _spec_text(spec)
        try:
            answer = self.call("CreateStudy", study_service_pb2.CreateStudyRequest(spec_yaml=text))
        except exceptions.AlreadyExistsError:
            if not exist_ok:
                raise
            name = _spec_name(spec, text)
            if name is None:
                raise
            return self.get_study(name)
        if answer.note:
            _log.info("vernier: %s", answer.note)
        return Study(self, answer)

    def get_study(self, name: str) -> "Study":
        """The study of that name; ``NotFoundError`` when there is none."""
        return Study(self, self.call("GetStudy", study_service_pb2.GetStudyRequest(name=name)))

    def list_studies(self) -> List["Study"]:
        """Every study, oldest first."""
        answer = self.call("ListStudies", study_service_pb2.ListStudiesRequest())
        return [Study(self, s) for s in answer.studies]

    def stop_study(self, name: str) -> "Study":
        """Stops an ACTIVE study: no new trials; running ones stop at their
        next report."""
        return Study(self, self.call("StopStudy", study_service_pb2.StopStudyRequest(name=name)))

    def delete_study(self, name: str, *, force: bool = False) -> int:
        """Deletes a study with its trials, checkpoints, artifacts and logs;
        returns how many trials went. Refused (``FailedPreconditionError``)
        while trials run, unless ``force``."""
        answer = self.call("DeleteStudy",
                           study_service_pb2.DeleteStudyRequest(name=name, force=force))
        return answer.trials


def _spec_text(spec: Union[str, os.PathLike, Mapping[str, Any]]) -> str:
    if isinstance(spec, Mapping):
        # JSON is valid YAML: no YAML library is needed to send a dict.
        return json.dumps(spec)
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec
                                         and spec.endswith((".yaml", ".yml", ".json"))):
        path = pathlib.Path(spec)
        try:
            return path.read_text(encoding="utf-8")
        except OSError as e:
            raise exceptions.VernierError(f"{path}: cannot read the study file: "
                                          f"{e.strerror}") from None
    if isinstance(spec, str):
        return spec
    raise TypeError(f"spec: expected a path, YAML text or a dict, got {type(spec).__name__}")


def _spec_name(spec: Any, text: str) -> Optional[str]:
    if isinstance(spec, Mapping):
        return spec.get("name")
    for line in text.splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].split("#", 1)[0].strip().strip("'\"")
    return None


class Trial:
    """A trial asked for your own loop: RUNNING until you ``tell`` it."""

    def __init__(self, study: "Study", proto: study_pb2.Trial):
        self.study = study
        self.number: int = proto.number
        self.params: Params = {name: _python_value(v) for name, v in proto.params.items()}
        self._pruned = False

    def __repr__(self) -> str:
        return f"Trial(study={self.study.name!r}, number={self.number}, params={self.params})"

    def report(self, step: int, value: Optional[float] = None, **metrics: float) -> bool:
        """Records the objective's ``value`` (and/or other ``metrics``) at
        ``step`` and returns whether the study's pruner stopped the trial
        (it is PRUNED then: raise ``TrialPruned``, as after Optuna's
        ``should_prune()``)."""
        request = study_service_pb2.ReportRequest(study=self.study.name, trial_number=self.number,
                                                  step=step, metrics=_floats(metrics))
        if value is not None:
            request.value = float(value)
        answer = self.study.client.call("Report", request)
        self._pruned = answer.should_prune
        return answer.should_prune

    def should_prune(self) -> bool:
        """Whether the last ``report`` stopped the trial."""
        return self._pruned


def _floats(metrics: Mapping[str, Any]) -> Dict[str, float]:
    result = {}
    for name, value in metrics.items():
        try:
            result[name] = float(value)
        except (TypeError, ValueError):
            raise exceptions.InvalidArgumentError(
                f"metrics.{name}: expected a number, got {type(value).__name__} {value!r}") from None
    return result


def _same_result(stored: FrozenTrial, request: study_service_pb2.TellRequest) -> bool:
    if request.state != study_pb2.TRIAL_STATE_COMPLETE:
        return True
    if request.HasField("value"):
        return stored.value == request.value
    return all(stored.final_metrics.get(k) == v for k, v in request.metrics.items())


class Study:
    """A study on the server. Attributes are as of the last answer;
    ``refresh()`` reads them again."""

    def __init__(self, client: Client, proto: study_pb2.Study):
        self.client = client
        self._set(proto)

    def _set(self, proto: study_pb2.Study) -> None:
        self.proto = proto
        self.name: str = proto.name
        self.state: str = _STUDY_STATE_NAMES.get(proto.state, "UNSPECIFIED")
        self.objectives: List[Tuple[str, str]] = [
            (o.metric, "minimize" if o.goal == study_pb2.GOAL_MINIMIZE else "maximize")
            for o in (proto.objectives or [proto.objective])]
        self.max_trials: int = proto.max_trials
        self.trial_counts: Dict[str, int] = dict(proto.trial_counts)

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, state={self.state}, trials={self.trial_counts})"

    @property
    def direction(self) -> str:
        """'minimize' or 'maximize' (the first objective's)."""
        return self.objectives[0][1]

    @property
    def metric(self) -> str:
        """The (first) objective's metric name."""
        return self.objectives[0][0]

    def refresh(self) -> "Study":
        self._set(self.client.call("GetStudy", study_service_pb2.GetStudyRequest(name=self.name)))
        return self

    def stop(self) -> "Study":
        """Stops the study (no new trials)."""
        self._set(self.client.call("StopStudy", study_service_pb2.StopStudyRequest(name=self.name)))
        return self

    # Ask / tell.

    def ask(self) -> Trial:
        """A new RUNNING trial: an enqueued one first, else sampled.
        ``FailedPreconditionError`` when the study is not ACTIVE or its
        budget is spent."""
        answer = self.client.call("Ask", study_service_pb2.AskRequest(study=self.name))
        return Trial(self, answer.trial)

    def tell(self, trial: Union[Trial, int], value: Optional[float] = None, *,
             values: Optional[Sequence[float]] = None, state: str = "COMPLETE",
             metrics: Optional[Mapping[str, float]] = None,
             failure_reason: str = "") -> FrozenTrial:
        """Records how an asked trial ended: its objective ``value`` (or
        ``values`` of a multi-objective study, in objective order), other
        final ``metrics``, or ``state="PRUNED"``/``"FAILED"`` (with a
        ``failure_reason``). Telling PRUNED to a trial the pruner stopped is
        accepted; a value for it raises ``FailedPreconditionError``."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        if state not in ("COMPLETE", "PRUNED", "FAILED"):
            raise exceptions.InvalidArgumentError(
                f"state: expected COMPLETE, PRUNED or FAILED, got {state!r}")
        request = study_service_pb2.TellRequest(study=self.name, trial_number=number,
                                                state=_STATES_BY_NAME[state],
                                                metrics=_floats(metrics or {}),
                                                failure_reason=failure_reason)
        if values is not None:
            if len(values) != len(self.objectives):
                raise exceptions.InvalidArgumentError(
                    f"values: the study has {len(self.objectives)} objectives, got {len(values)} "
                    "values")
            for (metric, _), v in zip(self.objectives, values):
                request.metrics[metric] = float(v)
        elif value is not None:
            request.value = float(value)
        try:
            answer = self.client.call("Tell", request)
        except exceptions.FailedPreconditionError:
            # A Tell retried after the server went away may have been stored
            # the first time: then the trial already ended as told.
            stored = self.get_trial(number)
            if stored.state == state and _same_result(stored, request):
                return stored
            raise
        return FrozenTrial.from_proto(answer.trial, self.metric)

    def enqueue(self, params: Mapping[str, Any]) -> FrozenTrial:
        """Queues a trial with these parameters (the rest are sampled); it
        runs before any newly sampled trial (Optuna's ``enqueue_trial``)."""
        request = study_service_pb2.EnqueueTrialRequest(study=self.name)
        for name, value in params.items():
            request.params[name].CopyFrom(_param_value(value))
        return FrozenTrial.from_proto(self.client.call("EnqueueTrial", request), self.metric)

    def enqueue_from(self, other: str, top: int) -> List[FrozenTrial]:
        """Re-runs the ``top`` best trials of study ``other`` here."""
        answer = self.client.call("EnqueueFromStudy", study_service_pb2.EnqueueFromStudyRequest(
            study=self.name, from_study=other, top=top))
        for line in answer.skipped:
            _log.info("vernier: enqueue from %s: skipped %s", other, line)
        return [FrozenTrial.from_proto(t, self.metric) for t in answer.trials]

    # Results.

    def iter_trials(self, *, states: Optional[Sequence[str]] = None, order_by: str = "number",
                    include_intermediate: bool = True,
                    page_size: int = _PAGE_SIZE) -> Iterator[FrozenTrial]:
        """The study's trials, read page by page as the iteration goes:
        ``states`` filters (e.g. ``["COMPLETE"]``), ``order_by`` is
        ``"number"`` or ``"objective"`` (best first)."""
        orders = {"number": study_service_pb2.TRIAL_ORDER_NUMBER,
                  "objective": study_service_pb2.TRIAL_ORDER_OBJECTIVE}
        if order_by not in orders:
            raise exceptions.InvalidArgumentError(
                f"order_by: expected 'number' or 'objective', got {order_by!r}")
        unknown = [s for s in states or [] if s not in _STATES_BY_NAME]
        if unknown:
            raise exceptions.InvalidArgumentError(
                f"states: unknown state {unknown[0]!r}; expected one of {sorted(_STATES_BY_NAME)}")
        request = study_service_pb2.ListTrialsRequest(
            study=self.name, page_size=page_size, order_by=orders[order_by],
            states=[_STATES_BY_NAME[s] for s in states or []],
            omit_intermediate=not include_intermediate)
        while True:
            answer = self.client.call("ListTrials", request)
            for trial in answer.trials:
                yield FrozenTrial.from_proto(trial, self.metric)
            if not answer.next_page_token:
                return
            request.page_token = answer.next_page_token

    @property
    def trials(self) -> Iterator[FrozenTrial]:
        """Every trial in number order, read lazily a page at a time
        (``list(study.trials)`` for all of them)."""
        return self.iter_trials()

    def exclude_trial(self, number: int, reason: str = "", *,
                      include: bool = False) -> FrozenTrial:
        """Stops the study learning from finished trial ``number`` (its
        sampler, pruner, best trials and stop conditions ignore it; its record
        stays); ``include=True`` takes that back."""
        return FrozenTrial.from_proto(
            self.client.call("ExcludeTrial", study_service_pb2.ExcludeTrialRequest(
                study=self.name, trial_number=number, reason=reason, include=include)),
            self.metric)

    def get_trial(self, number: int) -> FrozenTrial:
        """One trial, whole; ``NotFoundError`` when there is none."""
        return FrozenTrial.from_proto(
            self.client.call("GetTrial",
                             study_service_pb2.GetTrialRequest(study=self.name, number=number)),
            self.metric)

    @property
    def best_trials(self) -> List[FrozenTrial]:
        """The best COMPLETE trials: the Pareto front of a multi-objective
        study, else the single best (a list of one)."""
        answer = self.client.call("GetBestTrials",
                                  study_service_pb2.GetBestTrialsRequest(study=self.name, count=0))
        return [FrozenTrial.from_proto(t, self.metric) for t in answer.trials]

    @property
    def best_trial(self) -> FrozenTrial:
        """The best COMPLETE trial; ``VernierError`` when none completed."""
        best = self.best_trials
        if not best:
            raise VernierError(f"study {self.name!r} has no COMPLETE trial yet")
        return best[0]

    @property
    def best_value(self) -> Optional[float]:
        return self.best_trial.value

    @property
    def best_params(self) -> Params:
        return self.best_trial.params

    def export(self) -> Dict[str, Any]:
        """The study and all its trials as JSON-ready dicts (proto JSON)."""
        self.refresh()
        trials = []
        request = study_service_pb2.ListTrialsRequest(study=self.name, page_size=_PAGE_SIZE)
        while True:
            answer = self.client.call("ListTrials", request)
            trials.extend(json_format.MessageToDict(t) for t in answer.trials)
            if not answer.next_page_token:
                break
            request.page_token = answer.next_page_token
        return {"study": json_format.MessageToDict(self.proto), "trials": trials}

    def trials_dataframe(self, include_intermediate: bool = False) -> Any:
        """The trials as a pandas DataFrame (needs pandas): number, state,
        value(s), params_*, final metrics as metric_*, datetime_start,
        datetime_complete, duration, failure_reason."""
        try:
            import pandas
        except ImportError:
            raise ImportError("trials_dataframe needs pandas (Debian: python3-pandas)") from None
        rows = []
        for t in self.iter_trials(include_intermediate=include_intermediate):
            row: Dict[str, Any] = {"number": t.number, "state": t.state, "value": t.value}
            if len(self.objectives) > 1:
                row.update({f"values_{i}": v for i, v in enumerate(t.values)})
            row.update({f"params_{k}": v for k, v in t.params.items()})
            row.update({f"metric_{k}": v for k, v in t.final_metrics.items()})
            row["datetime_start"] = t.datetime_start
            row["datetime_complete"] = t.datetime_complete
            row["duration"] = (t.datetime_complete - t.datetime_start
                               if t.datetime_start and t.datetime_complete else None)
            row["failure_reason"] = t.failure_reason
            if include_intermediate:
                row["intermediate_values"] = t.intermediate_values
            rows.append(row)
        return pandas.DataFrame(rows)

    # optimize.

    def optimize(self, objective: Callable[[Trial], Union[float, Sequence[float]]], *,
                 n_trials: Optional[int] = None, timeout: Optional[float] = None,
                 n_jobs: int = 1, processes: bool = False,
                 catch: Tuple[type, ...] = (Exception,)) -> int:
        """Runs ``objective(trial)`` on asked trials until ``n_trials`` ran,
        ``timeout`` seconds passed, or the study has no trial left to give
        (budget spent or study stopped). Returns how many trials ran.

        The objective returns the value (a sequence of values for a
        multi-objective study); raising ``TrialPruned`` ends the trial
        PRUNED; an exception in ``catch`` ends it FAILED with the traceback
        as its reason (others are re-raised after the trial is told FAILED).
        ``n_jobs`` trials run at once: in threads, or with
        ``processes=True`` in separate processes (the objective must then be
        picklable: a module-level function), each with its own connection.
        Calls retry while the server restarts, so the loop goes on.
        """
        if n_jobs < 1:
            raise ValueError(f"n_jobs: expected >= 1, got {n_jobs}")
        budget = _Budget(n_trials, timeout)
        if n_jobs == 1 and not processes:
            return _run_loop(self, objective, budget, catch)
        if processes:
            return _run_processes(self, objective, budget, n_jobs, catch)
        with concurrent.futures.ThreadPoolExecutor(n_jobs) as pool:
            futures = [pool.submit(_run_loop, self, objective, budget, catch)
                       for _ in range(n_jobs)]
            return sum(f.result() for f in futures)


class _Budget:
    """Shared by optimize's threads: hands out trial slots until n_trials
    or the deadline."""

    def __init__(self, n_trials: Optional[int], timeout: Optional[float]):
        self._left = n_trials
        self._deadline = time.monotonic() + timeout if timeout is not None else None
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return False
            if self._left is not None:
                if self._left <= 0:
                    return False
                self._left -= 1
            return True


def _run_loop(study: Study, objective: Callable, budget: _Budget, catch: Tuple[type, ...]) -> int:
    ran = 0
    while budget.take():
        try:
            trial = study.ask()
        except exceptions.FailedPreconditionError as e:
            _log.info("vernier: study %s gives no more trials: %s", study.name, e)
            break
        _run_one(study, trial, objective, catch)
        ran += 1
    return ran


def _run_one(study: Study, trial: Trial, objective: Callable, catch: Tuple[type, ...]) -> None:
    try:
        result = objective(trial)
    except TrialPruned:
        study.tell(trial, state="PRUNED")
        return
    except BaseException as e:
        reason = traceback.format_exc()
        study.tell(trial, state="FAILED", failure_reason=reason[-4000:])
        if isinstance(e, catch):
            _log.warning("vernier: trial %d failed: %r", trial.number, e)
            return
        raise
    _tell_result(study, trial, result)


def _tell_result(study: Study, trial: Trial, result: Any) -> None:
    if isinstance(result, (list, tuple)):
        values = [float(v) for v in result]
        if any(math.isnan(v) for v in values):
            study.tell(trial, state="FAILED", failure_reason=f"objective returned NaN: {values}")
            return
        study.tell(trial, values=values)
        return
    try:
        value = float(result)
    except (TypeError, ValueError):
        study.tell(trial, state="FAILED", failure_reason=(
            f"objective returned {type(result).__name__} {result!r}, not a number"))
        return
    if math.isnan(value):
        study.tell(trial, state="FAILED", failure_reason="objective returned NaN")
        return
    study.tell(trial, value)


def _process_main(connect_args: dict, study_name: str, objective: Callable, n_trials: Optional[int],
                  deadline_wall: Optional[float], catch: Tuple[type, ...]) -> int:
    timeout = None if deadline_wall is None else max(0.0, deadline_wall - time.time())
    with connect(**connect_args) as client:
        study = client.get_study(study_name)
        return _run_loop(study, objective, _Budget(n_trials, timeout), catch)


def _run_processes(study: Study, objective: Callable, budget: _Budget, n_jobs: int,
                   catch: Tuple[type, ...]) -> int:
    # Spawned, not forked: a forked child would inherit gRPC's threads.
    context = multiprocessing.get_context("spawn")
    left = budget._left  # noqa: SLF001 (the split of one budget over the processes)
    shares = [None] * n_jobs if left is None else [left // n_jobs + (i < left % n_jobs)
                                                    for i in range(n_jobs)]
    deadline_wall = (None if budget._deadline is None  # noqa: SLF001
                     else time.time() + (budget._deadline - time.monotonic()))  # noqa: SLF001
    with concurrent.futures.ProcessPoolExecutor(n_jobs, mp_context=context) as pool:
        futures = [pool.submit(_process_main, study.client._connect_args, study.name,  # noqa: SLF001
                               objective, share, deadline_wall, catch)
                   for share in shares if share != 0]
        return sum(f.result() for f in futures)


def _read(path: Optional[str]) -> Optional[bytes]:
    return pathlib.Path(path).read_bytes() if path else None


def connect(server: Optional[str] = None, *, token: Optional[str] = None,
            token_file: Optional[str] = None, tls: bool = False, tls_ca: Optional[str] = None,
            tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
            retry_timeout: float = 60.0) -> Client:
    """Connects to a ``vernier-server``, as the CLI does: ``server`` defaults
    to ``$VERNIER_SERVER``, then ``127.0.0.1:50051``; the token to
    ``token_file``'s content, then ``$VERNIER_TOKEN``. TLS when ``tls`` or
    ``tls_ca`` is given (``tls_ca`` the CA bundle that signed the server's
    certificate, else the system's roots; ``tls_cert``/``tls_key`` for mutual
    TLS). Calls retry for ``retry_timeout`` seconds while the server is
    unreachable."""
    server = server or os.environ.get("VERNIER_SERVER") or "127.0.0.1:50051"
    if token is None and token_file:
        try:
            token = pathlib.Path(token_file).read_text().strip()
        except OSError as e:
            raise VernierError(f"{token_file}: cannot read the token file: {e.strerror}") from None
    if token is None:
        token = os.environ.get("VERNIER_TOKEN") or None
    credentials = None
    if tls or tls_ca:
        if bool(tls_cert) != bool(tls_key):
            raise VernierError("tls_cert and tls_key: give both or neither")
        credentials = grpc.ssl_channel_credentials(_read(tls_ca), _read(tls_key), _read(tls_cert))
    connect_args = {"server": server, "token": token, "tls": tls, "tls_ca": tls_ca,
                    "tls_cert": tls_cert, "tls_key": tls_key, "retry_timeout": retry_timeout}
    return Client(server, token=token, credentials=credentials, retry_timeout=retry_timeout,
                  connect_args=connect_args)
