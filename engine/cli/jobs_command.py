"""``program-engine jobs run|list|show|result|interim|logs|cancel|delete``.

Tables and plain lines by default; ``--json`` prints one JSON document on stdout instead:

- a *job* is the one job document of :mod:`engine.documents` (the same keys as ``GET
  /v1/jobs/{id}`` and ``program-engine run --json``): ``status`` is QUEUED, RUNNING, DONE,
  ERROR or CANCELLED; ``reason`` is machine-readable (``null`` while active and for DONE);
  ``metrics`` has ``wall_seconds``, ``cpu_seconds``, ``peak_memory_bytes``,
  ``backend_calls``, ``shots`` and ``node`` once the job has run; ``error`` is ``{"type",
  "message", "traceback"}`` for a job that ended ERROR or CANCELLED with one, else ``null``;
  ``result``, ``logs`` and ``interim_results`` are ``null`` unless the command shows them;
- ``run`` prints the job once it has ended (in remote mode without ``--wait``: as queued);
  with ``--wait`` the job also has its ``interim_results`` and ``result``;
- ``result`` prints the job with its ``result`` (``null`` unless DONE);
- ``list`` prints an array of jobs, newest first; ``show`` and ``cancel`` print the job;
- ``interim`` prints an array of interim results, oldest first;
- ``logs`` prints ``{"id": ID, "logs": TEXT}``; ``delete`` prints ``{"id": ID, "deleted": true}``.

Inputs, interim results and results are in the wire form: plain JSON, where arrays, complex
numbers and other non-JSON values are ``RuntimeEncoder``'s ``{"__type__": ..., "__value__":
...}`` objects. Without ``--json``, each interim result and the result is one line of that
JSON on stdout, and progress goes to stderr.

``jobs run`` in embedded mode: there is no daemon, so the CLI process is the executor (see
:mod:`engine.cli.service_options`). The job is checked and queued first, with no executor
running, so a refused run never touches the queue; then the process starts the configured
executor (``$ENGINE_EXECUTOR``) and stays until the job has ended, even without ``--wait``:
it prints the job id at once, waits silently, then prints the final status, and exits 1 when
the job ended ERROR or CANCELLED. Ctrl-C (or SIGTERM) cancels the job. Jobs the executor
took from the shared queue meanwhile (first in, first out, whoever queued them) are seen to
their end before the process exits, rather than cancelled by its exit. In remote mode the
daemon runs the job: ``jobs run`` without ``--wait`` returns once the job is queued, and
Ctrl-C stops only the waiting.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.output import console, error_console, print_json
from engine.cli.service_options import (
    EXIT_FAILED,
    EXIT_OK,
    ServiceOptions,
    fail,
    held_jobs,
    open_service,
    reporting_errors,
    service_command,
)
from engine.cli.tables import print_table

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
JobIdArgument = Annotated[str, typer.Argument(help="The job's id.")]


class Status(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"


FINAL = (Status.DONE, Status.ERROR, Status.CANCELLED)
_DRAIN_POLL_SECONDS = 0.2  # how often `jobs run` looks whether its executor is idle


def register(app: typer.Typer) -> None:
    jobs_app = typer.Typer(
        help="Run programs as jobs; list, inspect, cancel and delete jobs.", no_args_is_help=True
    )
    app.add_typer(jobs_app, name="jobs")
    jobs_app.command("run")(run)
    jobs_app.command("list")(list_jobs)
    jobs_app.command("show")(show)
    jobs_app.command("result")(result)
    jobs_app.command("interim")(interim)
    jobs_app.command("logs")(logs)
    jobs_app.command("cancel")(cancel)
    jobs_app.command("delete")(delete)


# --- run -------------------------------------------------------------------------------------


@service_command
def run(
    program_id: Annotated[str, typer.Argument(help="The program's id.")],
    service: ServiceOptions,
    inputs_file: Annotated[
        Path | None, typer.Option("--inputs", help="A JSON file with the program's inputs.",
                                  dir_okay=False)
    ] = None,
    input_pairs: Annotated[
        list[str] | None,
        typer.Option("--input", help="One input as KEY=JSON; repeat for more.",
                     metavar="KEY=JSON"),
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="Backend name (default: the policy's).", show_default=False)
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="Resource profile from policies/.", show_default=False)
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Stream interim results, then print the result.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a program as a job and print its id; with --wait, its interim results and result."""
    from engine.cli.inputs import read_inputs

    with reporting_errors():
        inputs = read_inputs(inputs_file, input_pairs or [])
    options = {key: value for key, value in (("backend", backend), ("profile", profile))
               if value is not None}
    with open_service(service, as_json=as_json) as engine:
        job = engine.run(program_id, inputs, options=options)
        job_id = job.job_id()
        if not wait and not as_json:
            console.print(job_id, markup=False, soft_wrap=True)
        if wait and not as_json:
            error_console.print(f"job {job_id} queued (program {program_id}, backend "
                                f"{job.backend()})", markup=False, soft_wrap=True)
        if service.remote:
            if not wait:
                if as_json:
                    print_json(job_dict(job))
                else:
                    error_console.print(f"job {job_id} queued", markup=False)
                return
            final, value = _follow(engine, job, wait=wait, as_json=as_json, embedded=False)
    if not service.remote:
        # The job is stored and checked; only now does this process start executing.
        if not wait and not as_json:
            error_console.print(
                f"job {job_id} runs in this process, which stays until the job ends "
                f"(Ctrl-C, SIGTERM or SIGHUP cancels it; `program-engine serve` runs jobs "
                f"in the background)", markup=False, soft_wrap=True)
        with open_service(service, run_jobs=True, as_json=as_json) as engine:
            final, value = _follow(engine, engine.job(job_id), wait=wait, as_json=as_json,
                                   embedded=True)
    if as_json:
        print_json(final)
    else:
        if wait and final["status"] == Status.DONE:
            _print_value(value)
        _print_final(final)
    raise typer.Exit(EXIT_OK if final["status"] == Status.DONE else EXIT_FAILED)


def _follow(engine: Any, job: Any, *, wait: bool, as_json: bool, embedded: bool
            ) -> tuple[dict[str, Any], Any]:
    """Wait for ``job`` to end (showing its interim results with ``wait``); return its JSON
    document (with its interim results and result with ``wait``) and its result value."""
    with _on_interrupt(job, cancel=embedded):
        _stream(job, show=_print_value if wait and not as_json else None)
        if embedded:
            _see_held_jobs_through(engine)
    final = job_dict(job, ("result", "interim_results") if wait else ())
    value = _result_value(job) if final["status"] == Status.DONE else None
    return final, value


def _stream(job: Any, show: Callable[[Any], None] | None) -> list[Any]:
    """Wait for the job to end; return (and ``show``, as they arrive) its interim results."""
    lock = threading.Lock()
    received: list[Any] = []
    closed = False

    def on_message(_job_id: str, data: Any) -> None:
        with lock:
            if closed:
                return
            value = _plain(data)
            received.append(value)
            if show is not None:
                show(value)

    job.stream_results(on_message, decoder=_WireForm)
    try:
        job.wait_for_final_state()
    finally:
        job.cancel_result_streaming()
    with lock:
        closed = True
        # The stream stops as the job ends; whatever it had not delivered is the tail.
        for data in job.interim_results(decoder=_WireForm)[len(received):]:
            value = _plain(data)
            received.append(value)
            if show is not None:
                show(value)
    return received


@contextmanager
def _on_interrupt(job: Any, *, cancel: bool) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP while waiting ends the command (exit 130 / 143 / 129).

    In embedded mode this process is the executor, so the job is cancelled first; a daemon
    keeps running it.
    """
    stopped_by: list[int] = []

    def on_term(signum: int, _frame: Any) -> None:
        stopped_by.append(signum)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, on_term)
                for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except KeyboardInterrupt:
        signum = stopped_by[0] if stopped_by else signal.SIGINT
        if cancel:
            error_console.print(f"interrupted: cancelling job {job.job_id()}", markup=False)
            with reporting_errors():
                job.cancel()
        else:
            error_console.print(f"interrupted: job {job.job_id()} goes on (program-engine jobs "
                                f"cancel {job.job_id()} stops it)", markup=False)
        raise typer.Exit(128 + signum) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _see_held_jobs_through(engine: Any) -> None:
    """Let jobs this process's executor took from the shared queue end before it exits.

    Closing the service would otherwise cancel them (reason ``engine_shutdown``) after the
    policy's grace period, although another CLI process may be waiting for one of them.
    """
    import time

    announced: set[str] = set()
    while held := held_jobs(engine):
        new = sorted(set(held) - announced)
        if new:
            error_console.print(
                f"this process also runs job(s) {', '.join(new)} from the queue; waiting for "
                "them to end (Ctrl-C cancels them)", markup=False, soft_wrap=True,
            )
            announced.update(new)
        time.sleep(_DRAIN_POLL_SECONDS)


# --- reading jobs ----------------------------------------------------------------------------


@service_command
def list_jobs(
    service: ServiceOptions,
    program: Annotated[
        str | None, typer.Option("--program", help="Only jobs of this program id.")
    ] = None,
    status: Annotated[
        Status | None, typer.Option("--status", help="Only jobs in this state.",
                                    case_sensitive=False)
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many (default: the service's, 10).",
                     show_default=False),
    ] = None,
    skip: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """List your jobs, newest first."""
    filters: dict[str, Any] = {"skip": skip}
    if limit is not None:
        filters["limit"] = limit
    filters.update(program_id=program, status=status.value if status else None)
    rows = service.quick_reads().job_documents(**filters)
    if rows is None:
        with open_service(service, as_json=as_json) as engine:
            rows = [job_dict(job) for job in engine.jobs(**filters)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        error_console.print("no jobs")
        return
    print_table(_jobs_table(rows))


@service_command
def show(job_id: JobIdArgument, service: ServiceOptions, as_json: JsonOption = False) -> None:
    """Show a job: status, reason, backend, inputs, metrics and error."""
    row = service.quick_reads().job_document(job_id)
    if row is None:
        with open_service(service, as_json=as_json) as engine:
            row = job_dict(engine.job(job_id))
    if as_json:
        print_json(row)
        return
    print_table(_job_table(row))


@service_command
def result(
    job_id: JobIdArgument,
    service: ServiceOptions,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for a job that has not ended yet.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print a job's result; exit 1 if it ended ERROR or CANCELLED."""
    with open_service(service, as_json=as_json) as engine:
        job = engine.job(job_id)
        if wait:
            job.wait_for_final_state()
        row = job_dict(job, ("result",))
        if row["status"] not in FINAL:
            fail(f"job {job_id} is {row['status']}: no result yet (add --wait to wait for it)")
        value = _result_value(job) if row["status"] == Status.DONE else None
    if as_json:
        print_json(row)
    elif row["status"] == Status.DONE:
        _print_value(value)
    else:
        _print_final(row)
    raise typer.Exit(EXIT_OK if row["status"] == Status.DONE else EXIT_FAILED)


@service_command
def interim(job_id: JobIdArgument, service: ServiceOptions, as_json: JsonOption = False) -> None:
    """Print a job's interim results stored so far, oldest first, one per line."""
    with open_service(service, as_json=as_json) as engine:
        values = [_plain(data) for data in engine.job(job_id).interim_results(decoder=_WireForm)]
    if as_json:
        print_json(values)
        return
    if not values:
        error_console.print(f"job {job_id} has no interim results", markup=False)
    for value in values:
        _print_value(value)


@service_command
def logs(
    job_id: JobIdArgument,
    service: ServiceOptions,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing what the job prints until it ends.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print what a job's program wrote to stdout and stderr (capped by the sandbox)."""
    import sys

    with open_service(service, as_json=as_json) as engine:
        job = engine.job(job_id)
        if follow and not as_json:
            with _on_interrupt(job, cancel=False):
                _follow_logs(job, sys.stdout)
            return
        text = job.logs()
    if as_json:
        print_json({"id": job_id, "logs": text})
        return
    if not text:
        error_console.print(f"job {job_id} has no logs", markup=False)
        return
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _follow_logs(job: Any, out: Any) -> None:
    """Write the job's logs as they come (from a daemon: its event stream), until it has
    ended and all of them are out."""
    for text in job.log_stream():
        out.write(text)
        out.flush()


# --- changing jobs ---------------------------------------------------------------------------


@service_command
def cancel(job_id: JobIdArgument, service: ServiceOptions, as_json: JsonOption = False) -> None:
    """Cancel a job: a queued one ends at once, a running one's sandbox is stopped."""
    with open_service(service, as_json=as_json) as engine:
        job = engine.job(job_id)
        before = str(job.status())
        if before not in FINAL:
            job.cancel()
        row = job_dict(job)
    if as_json:
        print_json(row)
    elif before in FINAL:
        error_console.print(f"job {job_id} had already ended ({before})", markup=False)
    elif row["status"] == Status.CANCELLED:
        error_console.print(f"job {job_id} cancelled", markup=False)
    else:
        error_console.print(f"cancel requested: job {job_id} stops shortly", markup=False)


@service_command
def delete(job_id: JobIdArgument, service: ServiceOptions, as_json: JsonOption = False) -> None:
    """Delete a job with its results and logs (a running job is cancelled first)."""
    with open_service(service, as_json=as_json) as engine:
        engine.delete_job(job_id)
    if as_json:
        print_json({"id": job_id, "deleted": True})
        return
    error_console.print(f"deleted job {job_id}", markup=False)


# --- shapes and printing ---------------------------------------------------------------------


class _WireForm:
    """A result decoder that keeps results and interim results as their JSON text."""

    @classmethod
    def decode(cls, data: Any) -> Any:
        return data


def _plain(data: Any) -> Any:
    """The wire form as a JSON value (parsed as plain JSON: no types are built)."""
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8", errors="replace")
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def _result_value(job: Any) -> Any:
    return _plain(job.result(decoder=_WireForm))


def job_dict(job: Any, include: tuple[str, ...] = ()) -> dict[str, Any]:
    """The job's JSON document (see the module docstring)."""
    return job.to_dict(include)


def _error_text(row: dict[str, Any]) -> str | None:
    """The job's error as one text, or ``None`` when it has none."""
    error = row["error"]
    if error is None:
        return None
    text = f"{error['type'] or 'Error'}: {error['message'] or ''}".rstrip(": ")
    return f"{text}\n{error['traceback']}" if error.get("traceback") else text


def _print_value(value: Any) -> None:
    console.print_json(json.dumps(value), indent=None)


def _print_final(row: dict[str, Any]) -> None:
    status = row["status"]
    wall = row["metrics"].get("wall_seconds")
    took = f" in {wall:.2f} s" if isinstance(wall, (int, float)) else ""
    if status == Status.DONE:
        error_console.print(f"job {row['id']}: [green]DONE[/green]{took}", highlight=False)
        return
    error_console.print(f"job {row['id']}: [red]{status}[/red] ({row['reason']}){took}",
                        highlight=False)
    error = _error_text(row)
    if error:
        error_console.print(error, markup=False, highlight=False)
    if status == Status.ERROR:
        error_console.print(f"logs: program-engine jobs logs {row['id']}", markup=False)


def _jobs_table(rows: list[dict[str, Any]]) -> Any:
    from datetime import datetime

    from rich.markup import escape
    from rich.table import Table

    from engine.cli.tables import local_time

    table = Table(box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("program", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("reason", overflow="fold")
    table.add_column("backend", overflow="fold")
    table.add_column("created", no_wrap=True)
    for row in rows:
        table.add_row(
            escape(row["id"]),
            escape(row["program_id"]),
            _status_markup(row["status"]),
            escape(row["reason"] or ""),
            escape(row["backend"]),
            local_time(datetime.fromisoformat(row["created_at"])),
        )
    return table


def _job_table(row: dict[str, Any]) -> Any:
    from datetime import datetime

    from rich.markup import escape
    from rich.table import Table

    from engine.cli.tables import local_time

    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("id", escape(row["id"]))
    table.add_row("program", escape(row["program_id"]))
    table.add_row("status", _status_markup(row["status"]))
    table.add_row("reason", escape(row["reason"] or ""))
    table.add_row("backend", escape(row["backend"]))
    table.add_row("created", local_time(datetime.fromisoformat(row["created_at"])))
    table.add_row("inputs", escape(json.dumps(row["inputs"])))
    for key, value in row["metrics"].items():
        table.add_row(escape(key), escape(str(value)))
    error = _error_text(row)
    if error:
        table.add_row("error", escape(error))
    return table


def _status_markup(status: str) -> str:
    colour = {"DONE": "green", "ERROR": "red", "CANCELLED": "yellow"}.get(status)
    return f"[{colour}]{status}[/{colour}]" if colour else status
