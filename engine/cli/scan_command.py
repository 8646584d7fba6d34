"""``program-engine scan PATH...``: review programs as the upload path does.

Exit codes: 0 every file accepted, 1 any file rejected, 2 a usage or internal error (a bad
policy, a missing path, a file that is not Python, a folder without Python files, an output
file that cannot be written). The report goes to stdout, or to ``--output`` (then the one-line
summary goes to stderr). ``-`` reads one program from standard input.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from engine.scan import Report, ScanPolicy


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


EXIT_ACCEPTED, EXIT_REJECTED, EXIT_ERROR = 0, 1, 2


def register(app: typer.Typer) -> None:
    @app.command("scan")
    def scan(
        paths: Annotated[
            list[Path],
            typer.Argument(
                help="Python files, or folders to search for *.py files.", metavar="PATH"
            ),
        ],
        policy: Annotated[
            Path | None,
            typer.Option(
                "--policy",
                help="A scan policy laid over the default (policies/scan.yaml).",
                dir_okay=False,
            ),
        ] = None,
        output_format: Annotated[
            OutputFormat, typer.Option("--format", help="Report format.")
        ] = OutputFormat.text,
        fail_on: Annotated[
            FailOn | None,
            typer.Option(
                "--fail-on",
                help="Reject at this severity or above (overrides the policy's mode and "
                "threshold).",
            ),
        ] = None,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="Write the report here instead of stdout.",
                         metavar="PATH"),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="The same as --format json.")
        ] = False,
    ) -> None:
        """Review programs statically; exit 1 when any file is rejected.

        Example: program-engine scan my_program.py --format sarif --output scan.sarif
        """
        if as_json:
            output_format = OutputFormat.json
        try:
            code = _run(paths, policy, output_format, fail_on, output)
        except typer.Exit:
            raise
        except Exception as exc:  # a clean message and exit 2, never a traceback
            from engine.errors import EngineError

            prefix = "error" if isinstance(exc, EngineError) else "internal error"
            typer.echo(f"program-engine scan: {prefix}: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        raise typer.Exit(code)


def _run(
    paths: list[Path],
    policy_file: Path | None,
    output_format: OutputFormat,
    fail_on: FailOn | None,
    output: Path | None,
) -> int:
    from engine.scan import Level, load_scan_policy, scan_paths
    from engine.scan.formats import render, render_text, text_console

    policy = load_scan_policy(policy_file)
    if fail_on is not None:
        policy = policy.with_fail_on(Level.parse(fail_on.value))
    if [str(path) for path in paths] == ["-"]:
        report = _scan_stdin(policy)
    else:
        _check_paths(paths)
        report = scan_paths(paths, policy)
        if not report.files:
            _usage(f"no Python files in {', '.join(map(str, paths))}")

    if output is not None:
        try:
            output.write_text(render(report, output_format.value), encoding="utf-8")
        except OSError as exc:
            _usage(f"cannot write the report to {output}: {exc.strerror or exc}")
        typer.echo(report.summary(), err=True)
    elif output_format is OutputFormat.text:
        render_text(report, text_console())
    else:
        sys.stdout.write(render(report, output_format.value))
        sys.stdout.flush()
    return EXIT_ACCEPTED if report.accepted else EXIT_REJECTED


def _check_paths(paths: list[Path]) -> None:
    """A usage error for a path that is missing or a file that is not Python."""
    for path in paths:
        if str(path) == "-":
            _usage("'-' (standard input) must be the only path")
        if not path.exists():
            _usage(f"{path}: no such file or folder")
        if path.is_file() and path.suffix != ".py":
            _usage(f"{path}: not a Python file (scan takes .py files and folders)")


def _scan_stdin(policy: ScanPolicy) -> Report:
    """The report on one program read from standard input (named ``<stdin>``)."""
    from engine.scan import scan_source

    data = sys.stdin.buffer.read(policy.limits.max_bytes + 1)  # longer: refused by its size
    return scan_source(data, filename="<stdin>", policy=policy)


def _usage(message: str) -> None:
    typer.echo(f"program-engine scan: error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)
