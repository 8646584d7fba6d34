"""``program-engine audit list|verify``: read the audit log and check its hash chain.

Both work on the store directly (whoever can open it is trusted), with the same
``--home``/``--database-url``/``--config`` as ``serve``; over HTTP an admin reads it with
``GET /v1/audit``. ``verify`` exits 0 when the chain holds, 1 naming the first entry that
was changed, removed or inserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer

from engine.cli.output import console, error_console, print_json
from engine.cli.serve_command import ConfigOption, DatabaseOption, HomeOption, load_settings
from engine.cli.service_options import fail, one_line
from engine.cli.tables import local_time, print_table

audit_app = typer.Typer(help="Read the audit log and verify its hash chain.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@contextmanager
def _audit_log(home: Any, database_url: Any, config: Any) -> Iterator[Any]:
    from engine.audit_log import open_audit_log
    from engine.errors import EngineError

    settings = load_settings(config, home=home, database_url=database_url)
    try:
        with open_audit_log(settings) as audit_log:
            try:
                yield audit_log
            except (ValueError, LookupError) as exc:
                fail(one_line(exc))
    except (EngineError, OSError) as exc:
        fail(one_line(exc))


@audit_app.command("list")
def list_entries(
    since: Annotated[datetime | None, typer.Option(
        "--since", help="Entries at or after this time (ISO 8601; no zone means UTC).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z",
                 "%Y-%m-%d %H:%M:%S"])] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who acted.")] = None,
    action: Annotated[str | None, typer.Option(
        "--action", help="program.upload, review.approve, job.run, auth.refused, ...")] = None,
    obj: Annotated[str | None, typer.Option("--object", help="A program, job or user id.")
                   ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """The entries matching every filter given, oldest first."""
    from datetime import UTC

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with _audit_log(home, database_url, config) as audit_log:
        entries = audit_log.list(since=since, actor=actor, action=action, object_id=obj,
                                 limit=limit)
    if as_json:
        print_json([entry.to_dict() for entry in entries])
        return
    if not entries:
        error_console.print("no audit entries")
        return
    from rich.table import Table

    table = Table("#", "time", "actor", "action", "object", "origin", "details")
    for entry in entries:
        origin = entry.origin if entry.client is None else f"{entry.origin} {entry.client}"
        table.add_row(str(entry.seq), local_time(entry.at), entry.actor, entry.action,
                      entry.object, origin, _details(entry.details))
    print_table(table)


@audit_app.command("verify")
def verify(
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Recompute the hash chain; exit 1 naming the first entry changed, removed or inserted."""
    with _audit_log(home, database_url, config) as audit_log:
        count, broken = audit_log.verify()
    if broken is not None:
        fail(f"{broken} (checked {count} entries)", 1)
    console.print(f"audit log intact: {count} entries", markup=False)


def _details(details: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(details.items()))
