"""Vernier's Python package.

- ``vernier.connect(...)``: a client of a ``vernier-server`` (studies, ask/tell,
  optimize, results). Needs ``grpcio`` and ``protobuf``.
- ``from vernier import trial``: the trial helper for a script that a worker
  runs. Standard library only.
"""
from __future__ import annotations

from typing import Any

from vernier.exceptions import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TrialPruned,
    UnauthenticatedError,
    UnavailableError,
    VernierError,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "Client",
    "FailedPreconditionError",
    "FrozenTrial",
    "InvalidArgumentError",
    "NotFoundError",
    "Study",
    "Trial",
    "TrialPruned",
    "UnauthenticatedError",
    "UnavailableError",
    "VernierError",
    "connect",
]

_CLIENT_NAMES = {"Client", "FrozenTrial", "Study", "Trial", "connect"}


def __getattr__(name: str) -> Any:
    # The client imports gRPC and the generated stubs; a trial script that
    # only needs `vernier.trial` must not pay for (or need) either.
    if name in _CLIENT_NAMES:
        from vernier import client

        return getattr(client, name)
    raise AttributeError(f"module 'vernier' has no attribute {name!r}")
