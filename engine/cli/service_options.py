"""Which service a ``programs`` or ``jobs`` command talks to, and how its errors end the command.

Every such command takes the same options, added by :func:`service_command`:

``--home DIR``
    The embedded store's folder (default: ``$ENGINE_HOME``, else
    ``~/.local/share/program-engine``).
``--database-url URL``
    A SQLAlchemy URL to use instead of SQLite under the home (default:
    ``$ENGINE_DATABASE_URL``).
``--user NAME``
    Who acts. Default: ``$PROGRAM_ENGINE_USER``, else the login name of the account running
    the CLI. Embedded mode has no authentication: whoever can open the store is trusted, and
    the name only decides ownership and visibility, exactly as ``RuntimeService(user=...)``
    does. (A script using ``RuntimeService()`` acts as ``local``; pass ``--user local`` to see
    its programs.)
``--url URL`` / ``--token TOKEN``
    Remote mode (default: ``$PROGRAM_ENGINE_URL`` / ``$PROGRAM_ENGINE_TOKEN``): the commands
    talk to a ``program-engine serve`` daemon through ``engine.client.RemoteRuntimeService``,
    which has the embedded service's interface; the token names the user there, so ``--user``,
    ``--home`` and ``--database-url`` do not apply.

Executors: commands open the embedded service with ``executor=None``. A short-lived CLI
process must not start running queued jobs it would abandon a moment later (its exit would
cancel them). Only ``jobs run`` then opens it with the configured executor
(``$ENGINE_EXECUTOR``: ``local`` by default, or ``ray``), to wait for its job: in embedded
mode there is no daemon, so the CLI process itself runs (or dispatches) the job.

Listings: ``jobs list``, ``jobs show`` and ``programs list`` on a SQLite store read the file
without opening the service (:mod:`engine.quick_reads`: no SQLAlchemy, no pydantic-settings),
with the same answers; in every other case (remote mode, PostgreSQL, a config file, a store
to migrate, a dead engine's jobs to end) they open it as the other commands do.

Exit codes: 0 success; 1 the thing checked failed (an upload rejected by the static review,
a job that ended ERROR or CANCELLED); 2 a usage error, something not found, permission
denied, invalid metadata or inputs, Docker unavailable, or an internal error. Errors go to
stderr as one line naming the field and the rule.
"""

from __future__ import annotations

import functools
import getpass
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from engine.cli.output import error_console, print_json

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

USER_ENV = "PROGRAM_ENGINE_USER"
URL_ENV = "PROGRAM_ENGINE_URL"
TOKEN_ENV = "PROGRAM_ENGINE_TOKEN"
FALLBACK_USER = "local"

_PANEL = "Service"

_T = TypeVar("_T")


@dataclass(frozen=True)
class ServiceOptions:
    """The common options as given on the command line (``None``: not given)."""

    home: Path | None = None
    database_url: str | None = None
    user: str | None = None
    url: str | None = None
    token: str | None = None

    def resolve(self, environ: Mapping[str, str] | None = None) -> ServiceOptions:
        """Fill in defaults from the environment; refuse combinations that make no sense."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        url = self.url or env.get(URL_ENV) or None
        token = self.token or env.get(TOKEN_ENV) or None
        if url is None:
            if self.token is not None:
                raise_usage(f"--token needs --url (or ${URL_ENV})")
            return ServiceOptions(self.home, self.database_url, self._user(env))
        given = [flag for flag, value in (("--home", self.home), ("--user", self.user),
                                          ("--database-url", self.database_url))
                 if value is not None]
        if given:
            origin = "--url" if self.url else f"${URL_ENV}"
            verb = "applies" if len(given) == 1 else "apply"
            raise_usage(f"{', '.join(given)} {verb} to the embedded store, not to a daemon "
                        f"({origin} is set; the token names the user there)")
        return ServiceOptions(url=url, token=token)

    def _user(self, env: Mapping[str, str]) -> str:
        if self.user is not None:
            if not self.user.strip():
                raise_usage("--user must not be empty")
            return self.user
        named = (env.get(USER_ENV) or "").strip()
        if named:
            return named
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no login name (a container with an unnamed uid)
            return FALLBACK_USER

    @property
    def remote(self) -> bool:
        """Whether the commands talk to a daemon rather than a local store."""
        return self.url is not None

    def quick_reads(self) -> Any:
        """The local store's listings without the service (:class:`engine.quick_reads.QuickReads`):
        each answers ``None`` when only the service can answer (remote mode among others)."""
        from engine.quick_reads import QuickReads, store_file

        path = None if self.remote else store_file(self.home, self.database_url)
        return QuickReads(path, self.user or FALLBACK_USER)

    def connect(self, *, run_jobs: bool = False) -> Any:
        """Open the service: a ``RuntimeService``, or a ``RemoteRuntimeService`` with ``--url``.

        ``run_jobs`` applies to embedded mode only (a daemon runs its own jobs): with it, this
        process runs queued jobs with the configured executor (``$ENGINE_EXECUTOR``, ``local``
        by default); without it, the service has no executor.
        """
        if self.remote:
            return _remote_service(self.url or "", self.token)
        from engine.audit import CLI
        from engine.service import RuntimeService

        executor: dict[str, Any] = {} if run_jobs else {"executor": None}
        return RuntimeService(
            home=self.home,
            user=self.user or FALLBACK_USER,
            database_url=self.database_url,
            origin=CLI,
            **executor,
        )


def held_jobs(service: Any) -> list[str]:
    """Ids of the jobs an embedded service's executor is running in this process.

    Empty for a remote service or one opened with ``executor=None``.
    """
    running = getattr(service, "running_jobs", None)  # the remote client has none
    return list(running()) if running is not None else []


def _remote_service(url: str, token: str | None) -> Any:
    try:
        from engine.client import RemoteRuntimeService
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name not in ("engine.client", None):
            raise  # the client exists, but something it needs is missing: say what
        raise_usage(
            "remote mode (--url or $PROGRAM_ENGINE_URL) needs engine.client.RemoteRuntimeService,"
            " which this installation does not have; drop --url to use the local store"
        )
    return RemoteRuntimeService(url, token)


# --- the options on every command ----------------------------------------------------------

_COMMON = (
    inspect.Parameter(
        "home", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[Path | None, typer.Option(
            "--home", help="Store folder (default: $ENGINE_HOME or ~/.local/share/program-engine).",
            file_okay=False, rich_help_panel=_PANEL, show_default=False)],
    ),
    inspect.Parameter(
        "database_url", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option(
            "--database-url", help="SQLAlchemy URL of the store (default: $ENGINE_DATABASE_URL, "
            "else SQLite under the home).", rich_help_panel=_PANEL, show_default=False)],
    ),
    inspect.Parameter(
        "user", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option(
            "--user", help=f"Who acts; embedded mode has no auth (default: ${USER_ENV}, else "
            "your login name).", rich_help_panel=_PANEL, show_default=False)],
    ),
    inspect.Parameter(
        "url", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option(
            "--url", help=f"A program-engine daemon to talk to instead (default: ${URL_ENV}).",
            rich_help_panel=_PANEL, show_default=False)],
    ),
    inspect.Parameter(
        "token", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option(
            "--token", help=f"Bearer token for --url (default: ${TOKEN_ENV}).",
            rich_help_panel=_PANEL, show_default=False)],
    ),
)
_COMMON_NAMES = tuple(parameter.name for parameter in _COMMON)


def service_command(func: Callable[..., _T]) -> Callable[..., _T]:
    """Give a Typer command the common service options.

    ``func`` declares a ``service: ServiceOptions`` parameter; the wrapper Typer sees has
    ``--home``, ``--database-url``, ``--user``, ``--url`` and ``--token`` in its place and
    hands ``func`` the resolved :class:`ServiceOptions`.
    """
    signature = inspect.signature(func, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "service"]

    @functools.wraps(func)
    def command(**kwargs: Any) -> _T:
        given = ServiceOptions(**{name: kwargs.pop(name) for name in _COMMON_NAMES})
        with reporting_errors():
            options = given.resolve()
        return func(service=options, **kwargs)

    parameters = [*own, *_COMMON]
    command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


# --- opening the service and ending on errors ----------------------------------------------


@contextmanager
def open_service(
    options: ServiceOptions, *, run_jobs: bool = False, as_json: bool = False
) -> Iterator[Any]:
    """The service the options name, closed afterwards; engine errors end the command."""
    with reporting_errors(as_json=as_json):
        service = options.connect(run_jobs=run_jobs)
        try:
            yield service
        finally:
            service.close()


@contextmanager
def reporting_errors(*, as_json: bool = False) -> Iterator[None]:
    """Turn the engine's errors into one line on stderr and the matching exit code.

    A rejected upload lists every finding (with ``--json``, the scan report goes to stdout)
    and exits 1; every other engine error exits 2.
    """
    from engine.errors import EngineError, ProgramRejected
    from engine.extras import missing_extra_message

    try:
        yield
    except typer.Exit:
        raise
    except ProgramRejected as exc:
        report_rejection(exc.report, as_json=as_json)
        fail(str(exc), EXIT_FAILED)
    except (EngineError, ValueError, LookupError, OSError) as exc:
        fail(one_line(exc))
    except ModuleNotFoundError as exc:
        fail(missing_extra_message(exc) or f"internal error: {one_line(exc)}")
    except Exception as exc:  # a clean message and exit 2, never a traceback
        fail(f"internal error: {type(exc).__name__}: {one_line(exc)}")


def report_rejection(report: Any, *, as_json: bool) -> None:
    """Every finding of a rejected upload: on stderr, and the report on stdout with ``--json``."""
    from rich.markup import escape

    for finding in report.findings:
        blocking = "blocking" if report.is_blocking(finding) else "note"
        error_console.print(
            f"[yellow]{escape(finding.file)}:{finding.line}[/yellow] {finding.rule_id} "
            f"({finding.severity.label}, {blocking}) {escape(finding.message)}",
            highlight=False, soft_wrap=True,
        )
    if as_json:
        print_json(report.to_dict())


def one_line(exc: BaseException) -> str:
    """An error message on one line: a list of problems becomes ``head: a; b; c``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    head, rest = lines[0], lines[1:]
    if not rest:
        return head
    return f"{head} {'; '.join(rest)}" if head.endswith(":") else f"{head}: {'; '.join(rest)}"


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: message`` on stderr and end the command with ``code``."""
    from rich.markup import escape

    error_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def raise_usage(message: str) -> NoReturn:
    """End the command as a usage error (exit 2)."""
    fail(message, EXIT_USAGE)
