"""``program-engine sandboxes``: the engine's containers on this host, warm ones included."""

from __future__ import annotations

import time
from typing import Annotated

import typer


def _mb(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.0f} MB"


def register(app: typer.Typer) -> None:
    @app.command("sandboxes")
    def sandboxes(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """List the sandbox containers: whose, which program, memory and processes now.

        A container waiting between jobs of its user (reuse) or started ahead of time runs
        two processes under runc: init and the fork server.
        """
        from rich.table import Table

        from engine.cli.output import print_json
        from engine.cli.tables import print_table
        from engine.sandbox.docker_client import shared_client
        from engine.sandbox.listing import list_sandboxes
        from engine.sandbox.policy import load_sandbox_policy
        from engine.sandbox.pool import idle_memory_budget

        try:
            found = list_sandboxes(shared_client())
        except Exception as exc:  # Docker unreachable: say so, as other commands do
            typer.echo(f"error: cannot list the sandboxes: {exc}", err=True)
            raise typer.Exit(2) from None
        policy = load_sandbox_policy()
        budget = idle_memory_budget(policy)
        total = sum(info.memory_bytes or 0 for info in found)
        if as_json:
            print_json({"sandboxes": [info.to_dict() for info in found],
                        "memory_bytes": total, "idle_memory_budget_bytes": budget,
                        "reuse": policy.reuse})
            return
        table = Table(title=f"{len(found)} sandboxes, {_mb(total)} (idle budget {_mb(budget)}, "
                            f"reuse {'on' if policy.reuse else 'off'})", title_justify="left")
        for column in ("id", "job", "user", "program", "profile", "state", "age", "memory",
                       "processes"):
            table.add_column(column, justify="right" if column in {"memory", "processes"}
                             else "left")
        now = time.time()
        for info in found:
            table.add_row(info.id[:12], info.job, info.user or "-", info.program or "-",
                          info.profile or "-", info.state, f"{now - info.created:.0f} s",
                          _mb(info.memory_bytes),
                          "?" if info.processes is None else str(info.processes))
        print_table(table)
