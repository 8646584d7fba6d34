"""The engine's exception hierarchy, and each error's problem document both ways.

Every error the engine raises on purpose derives from :class:`EngineError`, and each message
says what was wrong and where (the field, the file and line, the limit), so that a caller can
show it to a user as it is.

Each class also knows its RFC 7807 problem document: its HTTP status, ``type`` and
``title`` are class attributes, :meth:`EngineError.to_problem` writes the document (the
daemon sends it) and :meth:`EngineError.from_problem` reads one back into the same class
with the same details (the remote client raises it), so the two doors agree by
construction.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, ClassVar

#: The prefix of every problem ``type`` (``urn:program-engine:problem:<slug>``).
PROBLEM_TYPE_PREFIX = "urn:program-engine:problem:"


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""

    http_status: ClassVar[int] = 400
    problem_slug: ClassVar[str] = "refused"
    problem_title: ClassVar[str] = "Request refused"

    def problem_details(self) -> dict[str, Any]:
        """The extension members of this error's problem document (see :meth:`to_problem`)."""
        return {}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        """Set the attributes :meth:`problem_details` wrote (the inverse of it)."""

    def to_problem(self) -> dict[str, Any]:
        """The RFC 7807 document for this error: ``type``, ``title``, ``status``, ``detail``,
        ``error`` (this class's name, which :meth:`from_problem` raises again) and the
        class's own details."""
        return {
            "type": PROBLEM_TYPE_PREFIX + self.problem_slug,
            "title": self.problem_title,
            "status": self.http_status,
            "detail": str(self),
            "error": next(cls.__name__ for cls in type(self).__mro__
                          if cls.__module__ == __name__),
            **self.problem_details(),
        }

    @classmethod
    def from_problem(cls, problem: Mapping[str, Any], status: int) -> EngineError:
        """The error a problem document describes: the class its ``error`` names, with its
        details restored; :class:`RemoteError` when it names none, or a server fault."""
        name = problem.get("error")
        target = _engine_classes().get(name) if isinstance(name, str) else None
        if status == 401:
            target = AuthenticationError
        if target is None or (target is EngineError and status >= 500):
            target = RemoteError
        exc = target.__new__(target)
        Exception.__init__(exc, str(problem.get("detail") or f"HTTP {status}"))
        exc._restore(problem, status)
        return exc


def _engine_classes() -> dict[str, type[EngineError]]:
    """Every error class of this module by name, aliases included."""
    module = vars(sys.modules[__name__])
    return {name: value for name, value in module.items()
            if isinstance(value, type) and issubclass(value, EngineError)}


def _fields(problem: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(item.get("loc", "")), str(item.get("msg", "")))
            for item in problem.get("fields") or [] if isinstance(item, Mapping)]


# --- configuration -------------------------------------------------------------------------


class ConfigurationError(EngineError):
    """A setting or a policy file is invalid."""

    http_status = 500
    problem_slug = "configuration-error"
    problem_title = "Server misconfigured"


class PolicyError(ConfigurationError):
    """A policy file under ``policies/`` (or a user's own) does not match its schema."""


# --- what a user hands over ----------------------------------------------------------------


class MetadataError(EngineError, ValueError):
    """Program metadata is missing a field, has a wrong value, or carries an invalid schema.

    ``problems`` lists every problem as ``(location, message)`` when there is more than a
    one-line story to tell, for example ``("spec.parameters.properties.x.type", "...")``.
    """

    http_status = 422
    problem_slug = "invalid-metadata"
    problem_title = "Invalid program metadata"

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message)

    def problem_details(self) -> dict[str, Any]:
        return {"fields": [{"loc": loc, "msg": msg} for loc, msg in self.problems]}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.problems = _fields(problem)


class InputValidationError(EngineError, ValueError):
    """Program inputs break the program's ``spec.parameters`` schema.

    ``violations`` lists every violation as ``(json_path, message)``, not only the first.
    """

    http_status = 422
    problem_slug = "invalid-inputs"
    problem_title = "Invalid inputs"

    def __init__(self, violations: list[tuple[str, str]], what: str = "inputs") -> None:
        self.violations = list(violations)
        lines = [f"  {path}: {message}" for path, message in self.violations]
        super().__init__(f"{len(self.violations)} invalid {what}:\n" + "\n".join(lines))

    def problem_details(self) -> dict[str, Any]:
        return {"fields": [{"loc": loc, "msg": msg} for loc, msg in self.violations]}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.violations = _fields(problem)


class ProgramError(EngineError, ValueError):
    """A program's source cannot be used: it does not parse, or has no proper ``main``."""

    http_status = 422
    problem_slug = "invalid-program"
    problem_title = "Unusable program source"

    def __init__(self, message: str, filename: str | None = None, line: int | None = None):
        self.filename = filename
        self.line = line
        where = filename or "<program>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")

    def problem_details(self) -> dict[str, Any]:
        return {"file": self.filename, "line": self.line}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.filename, self.line = problem.get("file"), problem.get("line")


class ProgramVersionGone(EngineError):
    """The program version a queued job runs was deleted before the job could start."""


class ProgramRejected(EngineError):
    """The static review rejected an upload; ``report`` carries every finding."""

    http_status = 422
    problem_slug = "program-rejected"
    problem_title = "Program rejected by the static review"

    def __init__(self, report: Any) -> None:
        self.report = report
        super().__init__(f"program rejected by the static review: {report.summary()}")

    def problem_details(self) -> dict[str, Any]:
        return {"report": self.report.to_dict()}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        from engine.scan.report import Report

        self.report = Report.from_dict(dict(problem.get("report") or {}))


# --- data on the wire ----------------------------------------------------------------------


class SerializationError(EngineError, ValueError):
    """A value cannot cross the wire."""

    http_status = 422
    problem_slug = "invalid-encoding"
    problem_title = "Value cannot be encoded or decoded"


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

    http_status = 500
    problem_slug = "sandbox-error"
    problem_title = "Sandbox failure"


class SandboxUnavailable(SandboxError):
    """Docker cannot be reached; the message says how to fix that."""

    http_status = 503
    problem_slug = "sandbox-unavailable"
    problem_title = "Sandbox unavailable"


class SandboxLost(SandboxError):
    """Docker stopped answering while a job's sandbox ran: the job ends ``ERROR`` with the
    reason ``sandbox_lost``, and its container is removed once Docker answers again."""


class ImageBuildError(SandboxError):
    """A base, runtime or per-program image could not be built."""


class BackendError(EngineError):
    """A backend name is unknown, or a backend cannot serve a program."""

    http_status = 422
    problem_slug = "backend-unsuitable"
    problem_title = "Backend unknown or unsuitable"


class BackendRejected(BackendError):
    """A ``backend.run`` call was refused by an admission limit, named in the message."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        self.limit = limit
        super().__init__(message)

    def problem_details(self) -> dict[str, Any]:
        return {"limit": self.limit}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.limit = problem.get("limit")


# --- the service ---------------------------------------------------------------------------


class NotFound(EngineError, LookupError):
    """Something does not exist, or is not visible to the caller (the two look alike)."""

    http_status = 404
    problem_slug = "not-found"
    problem_title = "Not found"


class ProgramNotFound(NotFound):
    """No such program, or it is another user's private program."""

    problem_slug = "program-not-found"
    problem_title = "Program not found"


class JobNotFound(NotFound):
    """No such job, or it is another user's job on a private program."""

    problem_slug = "job-not-found"
    problem_title = "Job not found"


class PermissionDenied(EngineError):
    """The caller may see the object but not change it."""

    http_status = 403
    problem_slug = "permission-denied"
    problem_title = "Only the owner may do this"


class RuntimeJobFailure(EngineError):
    """A job ended as ERROR; ``reason`` is machine-readable, ``error`` the program's error."""

    def __init__(self, message: str, reason: str | None = None, error: Any = None) -> None:
        self.reason = reason
        self.error = error
        super().__init__(message)

    def problem_details(self) -> dict[str, Any]:
        return {"reason": self.reason}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.reason, self.error = problem.get("reason"), None


class RuntimeJobCancelled(EngineError):
    """A job ended as CANCELLED (by its user, or because it ran too long)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        self.reason = reason
        super().__init__(message)

    def problem_details(self) -> dict[str, Any]:
        return {"reason": self.reason}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.reason = problem.get("reason")


class RuntimeJobTimeout(EngineError, TimeoutError):
    """Waiting for a job's final state took longer than the caller allowed."""

    http_status = 408
    problem_slug = "timeout"
    problem_title = "Timed out"


class RuntimeJobRanTooLong(RuntimeJobCancelled):
    """A job was cancelled because it exceeded its ``max_execution_time``."""


class InvalidJobState(EngineError):
    """The job is in a state where this cannot be done (cancelling a job that has ended)."""

    http_status = 409
    problem_slug = "invalid-job-state"
    problem_title = "Not possible in the job's state"


class DuplicateProgram(EngineError):
    """The user already has a program of this name; pass ``new=True`` for another one."""

    http_status = 409
    problem_slug = "duplicate-program"
    problem_title = "Program name already used"


class ReviewNotFound(NotFound):
    """No such program version, or the caller may not see its program."""

    problem_slug = "review-not-found"
    problem_title = "Review not found"


class ProgramNotApproved(EngineError):
    """A program has no approved version yet, so it cannot run.

    ``pending_version`` names the version waiting for review (``None`` when every version
    was rejected) and ``review`` where its review is seen (``/v1/reviews/<id>/<version>``,
    ``program-engine review show <id> <version>``).
    """

    http_status = 409
    problem_slug = "program-not-approved"
    problem_title = "Program not approved"

    def __init__(self, message: str, program_id: str = "", pending_version: int | None = None,
                 review: str | None = None) -> None:
        self.program_id = program_id
        self.pending_version = pending_version
        self.review = review
        super().__init__(message)

    def problem_details(self) -> dict[str, Any]:
        return {"program_id": self.program_id, "pending_version": self.pending_version,
                "review": self.review}

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.program_id = str(problem.get("program_id") or "")
        pending = problem.get("pending_version")
        self.pending_version = pending if isinstance(pending, int) else None
        review = problem.get("review")
        self.review = review if isinstance(review, str) else None


class InvalidReviewState(EngineError):
    """The version is not waiting for review (already approved or rejected)."""

    http_status = 409
    problem_slug = "review-not-pending"
    problem_title = "Not waiting for review"


class UserNotFound(NotFound):
    """No such user of the daemon."""

    problem_slug = "user-not-found"
    problem_title = "User not found"


class TokenNotFound(NotFound):
    """No token with that id among the user's tokens."""

    problem_slug = "token-not-found"
    problem_title = "Token not found"


class DuplicateUser(EngineError, ValueError):
    """A user of that name exists already."""

    http_status = 409
    problem_slug = "duplicate-user"
    problem_title = "User exists"


class UserHasRecords(EngineError):
    """A user still owns programs or jobs; deleting them too needs ``force``."""

    http_status = 409
    problem_slug = "user-has-records"
    problem_title = "User owns programs or jobs"


class QuotaExceeded(EngineError):
    """A per-user limit (queued jobs, request rate) would be exceeded; try again later."""

    http_status = 429
    problem_slug = "quota-exceeded"
    problem_title = "Limit reached"


# --- the store ------------------------------------------------------------------------------


class StoreUnavailable(EngineError):
    """The database does not answer (restarted, unreachable, or its lock held too long);
    nothing was changed, and the same request can be made again once it is back."""

    http_status = 503
    problem_slug = "store-unavailable"
    problem_title = "Store unavailable"


class StorageFull(EngineError):
    """The disk holding the store is full: the write was refused whole and nothing was
    changed; free space under the engine's home and try again."""

    http_status = 507
    problem_slug = "storage-full"
    problem_title = "Insufficient storage"


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

    def to_problem(self) -> dict[str, Any]:
        problem = super().to_problem()
        if self.status:
            problem["status"] = self.status
        return problem

    def _restore(self, problem: Mapping[str, Any], status: int) -> None:
        self.status, self.problem = status, dict(problem)


class AuthenticationError(RemoteError):
    """A request to the daemon carried no bearer token, or one that is unknown or revoked."""

    http_status = 401
    problem_slug = "unauthenticated"
    problem_title = "Authentication required"


# --- the original client's exception names ---------------------------------------------------
# Scripts written for the original Qiskit Runtime client catch these names; they are our
# classes under the names of ``qiskit_ibm_runtime.exceptions`` and
# ``qiskit.providers.ibmq.runtime.exceptions``, so only the import line changes.

QiskitRuntimeError = EngineError
IBMError = EngineError
IBMRuntimeError = EngineError
IBMInputValueError = InputValidationError
IBMNotAuthorizedError = PermissionDenied
RuntimeProgramNotFound = ProgramNotFound
RuntimeJobNotFound = JobNotFound
RuntimeJobFailureError = RuntimeJobFailure
RuntimeJobTimeoutError = RuntimeJobTimeout
RuntimeJobMaxTimeoutError = RuntimeJobRanTooLong
RuntimeInvalidStateError = InvalidJobState
RuntimeDuplicateProgramError = DuplicateProgram
