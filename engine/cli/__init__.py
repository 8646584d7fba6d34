"""The ``program-engine`` command line.

Each command group lives in its own module and registers itself on the one Typer app.
Exit codes: 0 success, 1 the thing checked failed (a rejected scan, a job that did not end
DONE), 2 a usage or internal error.
"""

from __future__ import annotations

import sys

import typer

from engine.cli.help_pages import teach

app = typer.Typer(
    name="program-engine",
    help="Review, sandbox and run Qiskit-Runtime-style programs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from engine import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 callback=_print_version, is_eager=True),
) -> None:
    """Review, sandbox and run Qiskit-Runtime-style programs."""


def _register_commands() -> None:
    from engine.cli import (
        audit_command,
        backends_command,
        images_command,
        jobs_command,
        programs_command,
        review_command,
        run_command,
        sandboxes_command,
        scan_command,
        serve_command,
        users_command,
        version_command,
    )

    for module in (run_command, scan_command, programs_command, jobs_command, serve_command,
                   users_command, images_command, backends_command, version_command,
                   review_command, audit_command, sandboxes_command):
        module.register(app)


_register_commands()
teach(app)


def main() -> None:
    """Console-script entry point."""
    from engine.extras import missing_extra_message

    try:
        app()
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
