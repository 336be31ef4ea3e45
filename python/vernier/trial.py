"""The trial helper: the trial protocol for a training script run by a worker.

A worker starts the script with the trial's parameters in ``$VERNIER_PARAMS_FILE``
and a report channel on ``$VERNIER_REPORT_FD``. This module reads the one and
writes the other, so the script only says what it measured::

    from vernier import trial

    p = trial.params(defaults={"lr": 0.01, "epochs": 5})
    for epoch in range(1, p["epochs"] + 1):
        accuracy = train_one_epoch(p["lr"])
        if trial.report(epoch, val_accuracy=accuracy):
            break                       # pruned, or the study was stopped
    else:
        trial.finish(val_accuracy=accuracy)

Outside a worker (no ``$VERNIER_PARAMS_FILE``) the same script runs by hand:
``params`` returns the defaults and reports are logged to stderr, so one file
serves both.

Stopping: when the server prunes the trial or its study stops, the worker
sends SIGTERM to the trial's process group and, ``trainer.stop_grace`` seconds
later, SIGKILL. Importing this module in the main thread installs a SIGTERM
handler that only records the request; ``report`` then returns True (and
``should_stop`` is True) so the script can end its loop cleanly. A script
that keeps running is killed after the grace period, as any other program.

This module uses the standard library only: importing it needs neither gRPC
nor the generated stubs.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib
import signal
import sys
import threading
from typing import IO, Any, Dict, Mapping, Optional

__all__ = [
    "artifact_dir",
    "checkpoint",
    "checkpoint_dir",
    "finish",
    "in_worker",
    "number",
    "params",
    "report",
    "resume_dir",
    "should_stop",
    "study",
]

_log = logging.getLogger("vernier.trial")

# Set by the SIGTERM handler; read by report() and should_stop().
_stop_requested = threading.Event()
_report_lock = threading.Lock()
_report_stream: Optional[IO[str]] = None
_finished = False


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001 (signal handler signature)
    del signum, frame
    _stop_requested.set()


def _install_stop_handler() -> None:
    """Records SIGTERM instead of dying at once, but only under a worker and
    only from the main thread (Python allows handlers nowhere else)."""
    if not in_worker() or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


def in_worker() -> bool:
    """True when this process was started by a Vernier worker."""
    return "VERNIER_PARAMS_FILE" in os.environ


def study() -> Optional[str]:
    """The study's name under a worker, else None."""
    return os.environ.get("VERNIER_STUDY")


def number() -> Optional[int]:
    """The trial's number under a worker, else None."""
    value = os.environ.get("VERNIER_TRIAL")
    return int(value) if value is not None else None


def params(defaults: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The trial's parameters: the study's fixed ``trainer`` settings with the
    sampled parameters over them, as JSON types (int parameters are ``int``,
    floats ``float``, categoricals their value's type).

    ``defaults`` fill in any name the params file lacks, and are the whole
    answer outside a worker. Raises ``ValueError`` naming the file when the
    params file is not a JSON object.
    """
    result: Dict[str, Any] = dict(defaults or {})
    path = os.environ.get("VERNIER_PARAMS_FILE")
    if path is None:
        return result
    with open(path, encoding="utf-8") as f:
        try:
            loaded = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not JSON: {e}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(loaded).__name__}")
    result.update(loaded)
    return result


def should_stop() -> bool:
    """True once the worker asked this trial to stop (pruned, or the study
    stopped): finish the current step quickly and return."""
    return _stop_requested.is_set()


def _stream() -> IO[str]:
    global _report_stream
    if _report_stream is None:
        fd = int(os.environ["VERNIER_REPORT_FD"])
        _report_stream = os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=False)
    return _report_stream


def _metric(name: str, value: Any) -> float:
    """A metric as a float; NaN and infinities are allowed (the protocol
    writes them as NaN/Infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        # Tensors and numpy scalars convert through float(); anything else is
        # a mistake worth naming.
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"metric {name!r}: expected a number, got {type(value).__name__} "
                            f"{value!r}") from None
    return float(value)


def _metrics(values: Mapping[str, Any]) -> Dict[str, float]:
    if not values:
        raise ValueError("no metrics given: pass them as keywords, e.g. report(3, val_loss=0.4)")
    return {name: _metric(name, value) for name, value in values.items()}


def _write(line: Dict[str, Any]) -> None:
    text = json.dumps(line, allow_nan=True)
    if not in_worker() or "VERNIER_REPORT_FD" not in os.environ:
        _log.info("%s", text)
        print(f"vernier.trial: {text}", file=sys.stderr)
        return
    with _report_lock:
        stream = _stream()
        stream.write(text + "\n")
        stream.flush()


def report(step: int, **metrics: Any) -> bool:
    """Reports the metrics measured at ``step`` (an epoch, an iteration; >= 0)
    and returns ``should_stop()``: True when the trial should end now.

    The study's objective metric must be among them for the pruner to judge
    the step. Raises ``ValueError`` for a negative step or no metrics,
    ``TypeError`` for a value that is not a number, ``RuntimeError`` after
    ``finish``.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step: expected an int >= 0, got {step!r}")
    if _finished:
        raise RuntimeError("report after finish: the trial's result is already sent")
    _write({"step": step, "metrics": _metrics(metrics)})
    return should_stop()


def finish(**metrics: Any) -> None:
    """Sends the final result (the objective metric and any others). Call it
    once, at the end; exiting with status 0 after it completes the trial."""
    global _finished
    if _finished:
        raise RuntimeError("finish called twice")
    _write({"final": True, "metrics": _metrics(metrics)})
    _finished = True


def _trial_dir() -> pathlib.Path:
    """The worker's private directory for this trial, or ./vernier-trial by
    hand."""
    return pathlib.Path(os.environ.get("VERNIER_TRIAL_DIR", "vernier-trial"))


def checkpoint_dir() -> pathlib.Path:
    """A directory (created) to write a checkpoint into; announce it with
    ``checkpoint(step)`` once it is complete. Flat: file names of letters,
    digits, ``.``, ``_`` and ``-``."""
    path = _trial_dir() / "checkpoint"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def checkpoint(step: int) -> None:
    """Announces that ``checkpoint_dir()`` now holds a complete checkpoint
    taken after ``step``; write it before that step's ``report``."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step: expected an int >= 0, got {step!r}")
    _write({"checkpoint": str(checkpoint_dir()), "step": step})


def resume_dir() -> Optional[pathlib.Path]:
    """The checkpoint this run starts from (a pbt exploit), else None."""
    value = params().get("resume_from")
    return pathlib.Path(value) if value else None


def artifact_dir() -> pathlib.Path:
    """A directory (created) for files the user keeps: ``$VERNIER_ARTIFACT_DIR``
    when the worker sets it, else ``artifacts/`` in the trial's directory."""
    value = os.environ.get("VERNIER_ARTIFACT_DIR")
    path = pathlib.Path(value) if value else _trial_dir() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


_install_stop_handler()
