"""``program-engine programs upload|update|list|show|delete|visibility``.

Tables and summaries by default; ``--json`` prints one JSON document on stdout instead:

- a *program* is ``RuntimeProgram.to_dict()``: ``{"id", "name", "description",
  "max_execution_time", "version", "owner", "is_public", "creation_date", "update_date",
  "backend_requirements", "parameters", "return_values", "interim_results"}``, dates in ISO
  8601 (UTC);
- ``upload``, ``update``, ``show`` and ``visibility`` print the program as it now is;
- ``list`` prints an array of programs, newest first;
- ``delete`` prints ``{"id": ID, "deleted": true}``;
- a rejected upload (exit 1) prints the scan report, as ``program-engine scan --format json``
  writes it; its findings also go to stderr.

Without ``--json``, stdout carries only data (``upload`` prints the new id, so
``ID=$(program-engine programs upload DIR)`` works) and confirmations go to stderr. The
common options (``--home``, ``--user``, ``--url``...) and exit codes are described in
:mod:`engine.cli.service_options`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.output import console, error_console, print_json
from engine.cli.service_options import (
    ServiceOptions,
    open_service,
    raise_usage,
    service_command,
)
from engine.cli.tables import print_table

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
MetadataOption = Annotated[
    Path | None,
    typer.Option("--metadata", help="Metadata JSON file (default: NAME.json beside the program).",
                 dir_okay=False, show_default=False),
]


class Visibility(StrEnum):
    public = "public"
    private = "private"


def register(app: typer.Typer) -> None:
    programs_app = typer.Typer(
        help="Upload, update, list, show and delete programs.", no_args_is_help=True
    )
    app.add_typer(programs_app, name="programs")
    programs_app.command("upload")(upload)
    programs_app.command("update")(update)
    programs_app.command("list")(list_programs)
    programs_app.command("show")(show)
    programs_app.command("delete")(delete)
    programs_app.command("visibility")(visibility)


@service_command
def upload(
    path: Annotated[Path, typer.Argument(help="A program folder or a .py file.", exists=True)],
    service: ServiceOptions,
    metadata: MetadataOption = None,
    new: Annotated[bool, typer.Option(
        "--new", help="Upload even if you have a program of this name already.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Review, build and store a program; print its id.

    A program the static review rejects is not stored: its findings are printed and the
    command exits 1. A second program of a name you already use is refused (exit 2)
    unless --new is given; `programs update` adds a version instead.
    """
    with open_service(service, as_json=as_json) as engine:
        program_id = engine.upload_program(path, metadata, new=new)
        program = engine.program(program_id)
    if as_json:
        print_json(program.to_dict())
        return
    console.print(program_id, markup=False, soft_wrap=True)
    error_console.print(
        f"uploaded {program.name} as {program_id} (version {program.version}, "
        f"{_visibility(program.is_public)}, {program.review_status})", markup=False,
        soft_wrap=True,
    )


@service_command
def update(
    program_id: Annotated[str, typer.Argument(help="The program's id.")],
    service: ServiceOptions,
    path: Annotated[
        Path | None,
        typer.Argument(help="New source: a program folder or a .py file.", exists=True),
    ] = None,
    metadata: MetadataOption = None,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    max_execution_time: Annotated[
        int | None, typer.Option(min=1, help="New wall-time limit in whole seconds.",
                                 metavar="SECONDS")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a new version of a program; its id and older versions stay."""
    if path is None and metadata is None and name is None and description is None \
            and max_execution_time is None:
        raise_usage("nothing to update: give PATH, --metadata, --name, --description or "
                    "--max-execution-time")
    with open_service(service, as_json=as_json) as engine:
        engine.update_program(
            program_id,
            data=path,
            metadata=metadata,
            name=name,
            description=description,
            max_execution_time=max_execution_time,
        )
        program = engine.program(program_id)
    if as_json:
        print_json(program.to_dict())
        return
    error_console.print(f"updated {program_id} to version {program.version}", markup=False,
                        soft_wrap=True)


@service_command
def list_programs(
    service: ServiceOptions,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many (default: the service's, 20).",
                     show_default=False),
    ] = None,
    skip: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """List the programs you can see (yours and the public ones), newest first."""
    paging: dict[str, Any] = {"skip": skip}
    if limit is not None:
        paging["limit"] = limit
    programs = service.quick_reads().programs(**paging)
    if programs is None:
        with open_service(service, as_json=as_json) as engine:
            programs = engine.programs(**paging)
    if as_json:
        print_json([program.to_dict() for program in programs])
        return
    if not programs:
        error_console.print("no programs")
        return
    print_table(_table(programs))


@service_command
def show(
    program_id: Annotated[str, typer.Argument(help="The program's id.")],
    service: ServiceOptions,
    as_json: JsonOption = False,
) -> None:
    """Show a program: its metadata, parameters, interim results and return values."""
    with open_service(service, as_json=as_json) as engine:
        program = engine.program(program_id)
    if as_json:
        print_json(program.to_dict())
        return
    console.print(str(program), markup=False, highlight=False, soft_wrap=True)


@service_command
def delete(
    program_id: Annotated[str, typer.Argument(help="The program's id.")],
    service: ServiceOptions,
    as_json: JsonOption = False,
) -> None:
    """Delete a program and its versions; its past jobs and their results remain."""
    with open_service(service, as_json=as_json) as engine:
        engine.delete_program(program_id)
    if as_json:
        print_json({"id": program_id, "deleted": True})
        return
    error_console.print(f"deleted {program_id} (its past jobs remain)", markup=False,
                        soft_wrap=True)


@service_command
def visibility(
    program_id: Annotated[str, typer.Argument(help="The program's id.")],
    setting: Annotated[Visibility, typer.Argument(help="public: everyone can see and run it.")],
    service: ServiceOptions,
    as_json: JsonOption = False,
) -> None:
    """Make a program public or private."""
    with open_service(service, as_json=as_json) as engine:
        engine.set_program_visibility(program_id, setting is Visibility.public)
        program = engine.program(program_id)
    if as_json:
        print_json(program.to_dict())
        return
    error_console.print(f"{program_id} is now {_visibility(program.is_public)}", markup=False,
                        soft_wrap=True)


def _visibility(is_public: bool) -> str:
    return "public" if is_public else "private"


def _table(programs: list[Any]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from engine.cli.tables import local_time

    table = Table(box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("version", justify="right")
    table.add_column("owner", overflow="fold")
    table.add_column("public")
    table.add_column("created", no_wrap=True)
    for program in programs:
        table.add_row(
            escape(program.program_id),
            escape(program.name),
            str(program.version),
            escape(program.owner),
            "yes" if program.is_public else "no",
            local_time(program.creation_date),
        )
    return table
