"""``program-engine scan PATH...``: review programs as the upload path does.

Exit codes: 0 every file accepted, 1 any file rejected, 2 a usage or internal error (a bad
policy, a missing path). The report goes to stdout, or to ``--output`` (then the one-line
summary goes to stderr).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


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
            typer.Option("--output", "-o", help="Write the report here instead of stdout."),
        ] = None,
    ) -> None:
        """Review programs statically; exit 1 when any file is rejected."""
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
    report = scan_paths(paths, policy)

    if output is not None:
        output.write_text(render(report, output_format.value), encoding="utf-8")
        typer.echo(report.summary(), err=True)
    elif output_format is OutputFormat.text:
        render_text(report, text_console())
    else:
        sys.stdout.write(render(report, output_format.value))
        sys.stdout.flush()
    return EXIT_ACCEPTED if report.accepted else EXIT_REJECTED
