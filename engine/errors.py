"""The engine's exception hierarchy.

Every error the engine raises on purpose derives from :class:`EngineError`, and each message
says what was wrong and where (the field, the file and line, the limit), so that a caller can
show it to a user as it is.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


# --- configuration -------------------------------------------------------------------------


class ConfigurationError(EngineError):
    """A setting or a policy file is invalid."""


class PolicyError(ConfigurationError):
    """A policy file under ``policies/`` (or a user's own) does not match its schema."""


# --- what a user hands over ----------------------------------------------------------------


class MetadataError(EngineError, ValueError):
    """Program metadata is missing a field, has a wrong value, or carries an invalid schema.

    ``problems`` lists every problem as ``(location, message)`` when there is more than a
    one-line story to tell, for example ``("spec.parameters.properties.x.type", "...")``.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message)


class InputValidationError(EngineError, ValueError):
    """Program inputs break the program's ``spec.parameters`` schema.

    ``violations`` lists every violation as ``(json_path, message)``, not only the first.
    """

    def __init__(self, violations: list[tuple[str, str]], what: str = "inputs") -> None:
        self.violations = list(violations)
        lines = [f"  {path}: {message}" for path, message in self.violations]
        super().__init__(f"{len(self.violations)} invalid {what}:\n" + "\n".join(lines))


class ProgramError(EngineError, ValueError):
    """A program's source cannot be used: it does not parse, or has no proper ``main``."""

    def __init__(self, message: str, filename: str | None = None, line: int | None = None):
        self.filename = filename
        self.line = line
        where = filename or "<program>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class ProgramRejected(EngineError):
    """The static review rejected an upload; ``report`` carries every finding."""

    def __init__(self, report: Any) -> None:
        self.report = report
        super().__init__(f"program rejected by the static review: {report.summary()}")


# --- data on the wire ----------------------------------------------------------------------


class SerializationError(EngineError, ValueError):
    """A value cannot cross the wire."""


class EncodeError(SerializationError):
    """A value cannot be encoded (unsupported type, or larger than the limit)."""


class DecodeError(SerializationError):
    """A payload was refused or malformed; the message names the type and the rule it broke."""


class DecodeBudgetExceeded(DecodeError):
    """A payload would materialise more than the decode budget allows; ``limit`` names the
    policy key (``max_array_bytes``, ``max_values``, ...). Raised before the allocation."""

    def __init__(self, message: str, limit: str) -> None:
        self.limit = limit
        super().__init__(message)


class ProtocolViolation(EngineError):
    """A message from the sandbox broke the wire protocol (framing, schema, size or order)."""


# --- execution -----------------------------------------------------------------------------


class SandboxError(EngineError):
    """The sandbox could not run a program."""


class SandboxUnavailable(SandboxError):
    """Docker cannot be reached; the message says how to fix that."""


class ImageBuildError(SandboxError):
    """A base, runtime or per-program image could not be built."""


class BackendError(EngineError):
    """A backend name is unknown, or a backend cannot serve a program."""


class BackendRejected(BackendError):
    """A ``backend.run`` call was refused by an admission limit, named in the message."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        self.limit = limit
        super().__init__(message)


# --- the service ---------------------------------------------------------------------------


class NotFound(EngineError, LookupError):
    """Something does not exist, or is not visible to the caller (the two look alike)."""


class ProgramNotFound(NotFound):
    """No such program, or it is another user's private program."""


class JobNotFound(NotFound):
    """No such job, or it is another user's job on a private program."""


class PermissionDenied(EngineError):
    """The caller may see the object but not change it."""


class RuntimeJobFailure(EngineError):
    """A job ended as ERROR; ``reason`` is machine-readable, ``error`` the program's error."""

    def __init__(self, message: str, reason: str | None = None, error: Any = None) -> None:
        self.reason = reason
        self.error = error
        super().__init__(message)


class RuntimeJobCancelled(EngineError):
    """A job ended as CANCELLED (by its user, or because it ran too long)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        self.reason = reason
        super().__init__(message)


class RuntimeJobTimeout(EngineError, TimeoutError):
    """Waiting for a job's final state took longer than the caller allowed."""


class QuotaExceeded(EngineError):
    """A per-user limit (queued jobs, request rate) would be exceeded; try again later."""


# --- the daemon and its client -------------------------------------------------------------


class RemoteError(EngineError):
    """The daemon refused a request for a reason the embedded service has no class for
    (a body over the size limit, a server fault), or could not be reached.

    ``status`` is the HTTP status (``None`` when no answer came), ``problem`` the RFC 7807
    document the daemon sent.
    """

    def __init__(self, message: str, status: int | None = None, problem: Any = None) -> None:
        self.status = status
        self.problem = problem
        super().__init__(message)


class AuthenticationError(RemoteError):
    """A request to the daemon carried no bearer token, or one that is unknown or revoked."""
