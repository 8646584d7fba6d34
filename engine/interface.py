"""The service interface, declared once: what the embedded and the remote service both offer.

:class:`~engine.service.RuntimeService` (in this process, on the store) and
:class:`~engine.client.RemoteRuntimeService` (over HTTP, on a daemon) implement
:class:`RuntimeServiceInterface`; their methods carry no docstrings of their own, so what a
method promises is written here and nowhere else (``help()`` and ``inspect.getdoc`` show it
on both). A test checks that both have exactly these public signatures.

The interface follows the original Qiskit Runtime client's ``IBMRuntimeService``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.accounts import IssuedToken, UserDeletion
    from engine.audit import AuditRecord
    from engine.documents import BackendInfo
    from engine.program.result_decoder import ResultDecoder
    from engine.records import JobRecord, JobStatus, TokenRecord, UserRecord
    from engine.reviews import ProgramReview
    from engine.runtime_job import RuntimeJob
    from engine.runtime_program import RuntimeProgram


class RuntimeServiceInterface(Protocol):
    """Upload programs, run them as jobs, and read their results."""

    # --- programs ----------------------------------------------------------------------------

    def upload_program(self, data: Any, metadata: Any = None, *, new: bool = False) -> str:
        """Upload a program; return its id, ``<name>-<random suffix>``.

        ``data`` is a path to a ``.py`` file or a program folder, or the source text.
        ``metadata`` is a dict, a JSON string or a path (default: ``NAME.json`` beside the
        program). The program is scanned (a rejection raises :class:`ProgramRejected` and
        stores nothing) and its sandbox image is built. If the user already has a program
        of that name, :class:`DuplicateProgram` (``RuntimeDuplicateProgramError``) is
        raised, unless ``new`` asks for another program of the same name; a new version
        of the existing one is :meth:`update_program`.
        """
        ...

    def update_program(
        self,
        program_id: str,
        data: Any = None,
        metadata: Any = None,
        name: str | None = None,
        description: str | None = None,
        max_execution_time: float | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Record a new version of a program, keeping its id and its old versions.

        New source (``data``) is scanned as an upload is; the other arguments replace those
        fields of the current metadata.
        """
        ...

    def programs(self, limit: int | None = 20, skip: int = 0) -> list[RuntimeProgram]:
        """The programs this user may see (their own and the public ones), newest first."""
        ...

    def pprint_programs(self, refresh: bool = False, detailed: bool = False,
                        limit: int = 20, skip: int = 0) -> None:
        """Print the programs :meth:`programs` returns: id, name and description, or with
        ``detailed`` everything each one shows (``refresh`` is accepted for compatibility
        with the original client; nothing here is cached)."""
        for program in self.programs(limit=limit, skip=skip):
            if detailed:
                print(program)
            else:
                print(f"{program.program_id}:\n  Name: {program.name}\n"
                      f"  Description: {program.description}")

    def program(self, program_id: str) -> RuntimeProgram:
        """One program; :class:`ProgramNotFound` if it is missing or not visible."""
        ...

    def set_program_visibility(self, program_id: str, public: bool) -> None:
        """Make a program public (everyone can see and run it) or private."""
        ...

    def delete_program(self, program_id: str) -> None:
        """Delete a program and its versions; its past jobs and their results remain.

        Its queued jobs are cancelled, since their source goes with it.
        """
        ...

    # --- jobs --------------------------------------------------------------------------------

    def run(
        self,
        program_id: str,
        inputs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        callback: Callable[[str, Any], None] | None = None,
        result_decoder: type[ResultDecoder] | None = None,
    ) -> RuntimeJob:
        """Queue a job of ``program_id`` with ``inputs``; return its :class:`RuntimeJob`.

        ``options`` may name the ``backend`` (default: the policy's default backend) and a
        resource ``profile``. Inputs are encoded with ``RuntimeEncoder`` and validated
        against ``spec.parameters``, and the backend against ``spec.backend_requirements``,
        before anything is stored. ``callback(job_id, message)`` gets every interim result.
        """
        ...

    def job(self, job_id: str) -> RuntimeJob:
        """One job; :class:`JobNotFound` if it is missing or another user's."""
        ...

    def jobs(
        self,
        program_id: str | None = None,
        status: str | JobStatus | None = None,
        limit: int | None = 10,
        skip: int = 0,
        created_after: datetime | None = None,
    ) -> list[RuntimeJob]:
        """This user's jobs (every job for an admin), newest first, filtered."""
        ...

    def delete_job(self, job_id: str) -> None:
        """Delete a job and its results; a running job is cancelled first."""
        ...

    def backends(self) -> list[BackendInfo]:
        """The configured backends with their size and admission limits, as
        :class:`~engine.documents.BackendInfo` (``str()`` of one is its name); fake devices
        ``fake_<N>q`` are accepted too."""
        ...

    def close(self) -> None:
        """Release what this object holds (the store, or the HTTP connections)."""
        ...

    # --- reviews and the audit log ----------------------------------------------------------

    def reviews(self, status: str | None = "pending_review", limit: int | None = 20,
                skip: int = 0) -> list[ProgramReview]:
        """Program versions in review state ``status`` (``None``: every state), oldest first.

        A reviewer (or an admin) sees the versions of every program they can see; anyone
        else sees only their own uploads, with the decision and the comment on each.
        """
        ...

    def review(self, program_id: str, version: int) -> ProgramReview:
        """What a reviewer sees of one version: the scan findings with their source lines,
        the diff of every file and of the metadata against the previous approved version,
        the uploader, the upload time and the visibility. :class:`ReviewNotFound` when the
        caller may not see it. ``.approve(comment)`` / ``.reject(comment)`` decide on it."""
        ...

    def approve_version(self, program_id: str, version: int, comment: str = "") -> ProgramReview:
        """Approve a pending version (reviewers and admins; not one's own upload unless the
        review policy allows it); jobs then run it. Return the decided review."""
        ...

    def reject_version(self, program_id: str, version: int, comment: str) -> ProgramReview:
        """Reject a pending version with a comment saying why (required; 422 when empty)."""
        ...

    def audit_log(self, since: datetime | None = None, actor: str | None = None,
                  action: str | None = None, object_id: str | None = None,
                  limit: int | None = 100, skip: int = 0) -> list[AuditRecord]:
        """Audit entries matching every filter given, oldest first (admins only)."""
        ...

    # --- users and their tokens (admins only) ------------------------------------------
    # Everyone else gets PermissionDenied (HTTP 403); each change is in the audit log.

    def users(self, limit: int | None = 100, skip: int = 0) -> list[UserRecord]:
        """The daemon's users by name, with how many valid tokens each holds."""
        ...

    def add_user(self, name: str, is_admin: bool = False, is_reviewer: bool = False,
                 expires_in: float | None = None) -> IssuedToken:
        """Add a user and return their first token (the only time its secret is seen).

        ``expires_in`` is the token's lifetime in seconds (``None``: the default of
        ``policies/accounts.yaml``, by default no expiry). :class:`DuplicateUser` if the
        name is taken.
        """
        ...

    def delete_user(self, name: str, force: bool = False) -> UserDeletion:
        """Delete a user and their tokens.

        While they own programs or jobs, :class:`UserHasRecords` (HTTP 409) unless
        ``force``, which deletes those with them: their unfinished jobs are cancelled, so are
        other users' queued jobs of their programs, and a later user of the same name
        inherits nothing. To keep a user's records, revoke their tokens instead.
        """
        ...

    def user_tokens(self, name: str, limit: int | None = 100, skip: int = 0
                    ) -> list[TokenRecord]:
        """A user's tokens, newest first: id, creation, expiry and revocation, never the
        secret."""
        ...

    def issue_token(self, name: str, expires_in: float | None = None) -> IssuedToken:
        """Another token for an existing user (its secret is seen this once)."""
        ...

    def revoke_token(self, name: str, token_id: str) -> TokenRecord:
        """Revoke one token of a user by its id; requests with it get 401 from then on.
        :class:`TokenNotFound` if the user has no token of that id."""
        ...

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token of a user; return how many were not revoked yet."""
        ...

    # --- what a RuntimeJob reads through (engine.runtime_job.JobSource) -----------------

    def job_record(self, job_id: str) -> JobRecord:
        """The job as stored (with its result and logs once it is final)."""
        ...

    def job_messages(self, job_id: str, after_seq: int = 0) -> list[tuple[int, str]]:
        """The job's interim messages after number ``after_seq``: ``(seq, encoded data)``."""
        ...

    def cancel_job(self, job_id: str) -> None:
        """Ask for the job to be cancelled; it ends ``CANCELLED`` (reason ``user``)."""
        ...

    def wait_for_job_change(self, job_id: str, timeout: float) -> None:
        """Return when the job changed since it was last read, or after ``timeout``."""
        ...
