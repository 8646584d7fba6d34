"""``program-engine users``: the daemon's users and their bearer tokens.

``users add NAME [--admin] [--reviewer]`` creates a user and prints their first token on
stdout, once (only its SHA-256 is stored). ``users token NAME`` issues another token.
``users revoke NAME`` revokes every token of the user (their programs and jobs stay theirs).
``users list`` shows who exists. A reviewer may approve or reject uploads (admins may too).
Every change is written to the audit log as done by the login name running the command.
They work on the store directly, whether or not the daemon runs; use the same
``--home``/``--database-url``/``--config`` as ``serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from engine.cli.output import console, error_console, print_json
from engine.cli.serve_command import ConfigOption, DatabaseOption, HomeOption, load_settings

users_app = typer.Typer(
    help="Manage the daemon's users and their bearer tokens.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


@contextmanager
def _accounts(home: Any, database_url: Any, config: Any) -> Iterator[Any]:
    from engine.accounts import open_accounts
    from engine.errors import EngineError

    settings = load_settings(config, home=home, database_url=database_url)
    try:
        with open_accounts(settings, actor=_operator()) as accounts:
            try:
                yield accounts
            except (ValueError, LookupError) as exc:
                _fail(str(exc).strip("'\""))
    except EngineError as exc:
        _fail(str(exc))


def _operator() -> str:
    """Who the audit log names for a change made with this command: the login name."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container with an unnamed uid)
        return "operator"


def _fail(message: str) -> None:
    from rich.markup import escape

    error_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _show_token(token: str, name: str) -> None:
    typer.echo(token)
    error_console.print(
        f"token for {name}: shown once, only its hash is stored; keep it secret",
        highlight=False,
    )


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ -).")],
    admin: Annotated[bool, typer.Option("--admin", help="May see and change everything.")] = False,
    reviewer: Annotated[bool, typer.Option(
        "--reviewer", help="May approve or reject uploads (admins may too).")] = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a user and print their bearer token (once)."""
    with _accounts(home, database_url, config) as accounts:
        token = accounts.add(name, is_admin=admin, is_reviewer=reviewer)
    _show_token(token, name)


@users_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="An existing user.")],
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Issue another bearer token for an existing user (printed once)."""
    with _accounts(home, database_url, config) as accounts:
        issued = accounts.issue_token(name)
    _show_token(issued, name)


@users_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The user whose tokens to revoke.")],
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke every token of a user; requests with them get 401 from now on."""
    with _accounts(home, database_url, config) as accounts:
        count = accounts.revoke(name)
    console.print(f"revoked {count} token(s) of {name}", highlight=False)


@users_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """The users, whether they are admins, and how many valid tokens they hold."""
    from rich.table import Table

    with _accounts(home, database_url, config) as accounts:
        users = accounts.list()
    if as_json:
        print_json([{"name": u.name, "is_admin": u.is_admin, "is_reviewer": u.is_reviewer,
                     "active_tokens": u.active_tokens,
                     "created_at": u.created_at.isoformat()} for u in users])
        return
    table = Table("name", "admin", "reviewer", "tokens", "created")
    for user in users:
        table.add_row(user.name, "yes" if user.is_admin else "",
                      "yes" if user.is_reviewer or user.is_admin else "",
                      str(user.active_tokens),
                      user.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)
