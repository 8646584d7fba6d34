"""``program-engine backends``: the backends jobs can name, with their size and limits.

Example::

    program-engine backends
    program-engine backends --json
"""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.output import console, print_json
from engine.cli.service_options import ServiceOptions, open_service, service_command

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    app.command("backends")(backends)


@service_command
def backends(service: ServiceOptions, as_json: JsonOption = False) -> None:
    """List the backends: qubits, simulation method and the admission limits of a call.

    Example: program-engine backends --json
    """
    from rich.markup import escape
    from rich.table import Table

    with open_service(service, as_json=as_json) as engine:
        found = engine.backends()
    if as_json:
        print_json([backend.model_dump() for backend in found])
        return
    table = Table(box=None, pad_edge=False)
    for column in ("name", "qubits", "method", "max qubits", "max shots", "alias of"):
        table.add_column(column, overflow="fold")
    for backend in found:
        table.add_row(escape(backend.name), str(backend.num_qubits), backend.method,
                      str(backend.max_qubits), f"{backend.max_shots:,}",
                      escape(backend.alias_of or ""))
    console.print(table)
