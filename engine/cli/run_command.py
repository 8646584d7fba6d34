"""``program-engine run``: scan a program, then run it in the sandbox.

Exit codes: 0 when the job ends DONE; 1 when it ends ERROR or CANCELLED, or the scan rejects
it; 2 for a usage error or when the engine itself cannot run (for example, no Docker).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.inputs import read_inputs
from engine.cli.output import console, error_console, print_json


class ScanMode(StrEnum):
    reject = "reject"
    warn = "warn"


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    path: Annotated[Path, typer.Argument(help="A program folder, or a bare .py file.")],
    inputs_file: Annotated[
        Path | None, typer.Option("--inputs", help="A JSON file with the program's inputs.")
    ] = None,
    input_pairs: Annotated[
        list[str] | None,
        typer.Option("--input", help="One input as KEY=JSON; repeat for more.",
                     metavar="KEY=JSON"),
    ] = None,
    backend: Annotated[str | None, typer.Option(help="Backend name.")] = None,
    max_execution_time: Annotated[
        float | None, typer.Option(help="Wall-time limit in seconds (default: metadata).",
                                   metavar="SECONDS")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="Resource profile from policies.")] = None,
    scan: Annotated[
        ScanMode,
        typer.Option(help="reject: refuse a program the scan rejects; warn: show and run."),
    ] = ScanMode.reject,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run a program in the sandbox, streaming its interim results, then its result."""
    from engine.errors import EngineError, InputValidationError, ProgramError, SandboxUnavailable

    try:
        from engine.loader import load_program_input

        program = load_program_input(path)
    except (ProgramError, EngineError) as exc:
        _usage(str(exc))
    try:
        inputs = read_inputs(inputs_file, input_pairs or [])
    except InputValidationError as exc:
        _usage(str(exc))
    if not _scan_allows(program, scan, as_json):
        raise typer.Exit(1)

    from engine.submission import run_program

    def show(message: Any) -> None:
        if not as_json:
            console.print_json(message.data, indent=None)

    def print_logs(text: str) -> None:  # live, on stderr: stdout stays the result
        sys.stderr.write(text)
        sys.stderr.flush()

    try:
        outcome = run_program(
            program,
            inputs,
            backend=backend,
            max_execution_time=max_execution_time,
            profile=profile,
            on_interim=show,
            on_log=print_logs,
        )
    except InputValidationError as exc:
        _usage(str(exc))
    except SandboxUnavailable as exc:
        error_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except EngineError as exc:
        _usage(str(exc))

    if as_json:
        print_json(outcome.to_dict())
    else:
        _print_outcome(outcome)
    raise typer.Exit(0 if outcome.status == "DONE" else 1)


def _print_outcome(outcome: Any) -> None:
    if outcome.status == "DONE":
        if outcome.result_data is not None:
            console.print_json(outcome.result_data, indent=None)
        error_console.print(f"[green]DONE[/green] in {outcome.metrics['wall_seconds']:.2f} s")
        return
    error_console.print(f"[red]{outcome.status}[/red] ({outcome.reason})")
    if outcome.error is not None:
        error_console.print(f"{outcome.error.type}: {outcome.error.message}", markup=False)
        if outcome.error.traceback:
            error_console.print(outcome.error.traceback, markup=False)


def _scan_allows(program: Any, mode: ScanMode, as_json: bool) -> bool:
    """Scan the program as an upload is scanned; show the findings; say whether to run it."""
    from engine.submission import review

    report = review(program, reject=False)
    if not as_json or not report.accepted:
        for finding in report.findings:
            error_console.print(
                f"[yellow]{finding.file}:{finding.line}[/yellow] {finding.rule_id} "
                f"({finding.severity.label}) {finding.message}",
                highlight=False,
            )
    if report.accepted:
        return True
    if mode is ScanMode.warn:
        error_console.print("[yellow]scan rejected the program; running it anyway (--scan "
                            "warn)[/yellow]")
        return True
    error_console.print("[red]rejected by the static review[/red] (use --scan warn to run "
                        "it anyway)")
    return False


def _usage(message: str) -> None:
    error_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)
