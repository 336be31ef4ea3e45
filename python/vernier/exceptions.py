"""Exceptions of the Vernier client. Every error from the server is a
``VernierError`` whose message is the server's own (it names the field, the
value, the study or the trial); the subclasses follow the gRPC status."""
from __future__ import annotations

from typing import Optional


class VernierError(Exception):
    """An error answered by the server or met by the client.

    ``code`` is the gRPC status code's name (e.g. ``"INVALID_ARGUMENT"``),
    or None for an error of the client itself.
    """

    def __init__(self, message: str, code: Optional[str] = None):
        super().__init__(message)
        self.code = code


class NotFoundError(VernierError):
    """NOT_FOUND: no such study or trial."""


class InvalidArgumentError(VernierError, ValueError):
    """INVALID_ARGUMENT: a bad value; the message names the field."""


class FailedPreconditionError(VernierError):
    """FAILED_PRECONDITION: e.g. a value told for a trial that is not RUNNING
    (already PRUNED), or a study that is not ACTIVE."""


class AlreadyExistsError(VernierError):
    """ALREADY_EXISTS: a study of that name exists."""


class UnauthenticatedError(VernierError):
    """UNAUTHENTICATED or PERMISSION_DENIED: a missing or wrong token."""


class UnavailableError(VernierError):
    """UNAVAILABLE or DEADLINE_EXCEEDED after every retry: the server cannot
    be reached."""


class TrialPruned(Exception):
    """Raise it from an objective function to end the trial as PRUNED
    (``Study.optimize`` catches it), as Optuna's ``TrialPruned``."""
