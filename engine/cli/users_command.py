"""``program-engine users``: the daemon's users and their bearer tokens.

``users add NAME [--admin] [--reviewer] [--expires-in 30d]`` creates a user and prints their
first token on stdout, once (only its SHA-256 is stored). ``users token NAME`` issues another
token. ``users tokens NAME`` lists a user's tokens by id (the first 12 hex digits of the
token's SHA-256), with their state, never the secrets. ``users revoke NAME`` revokes every
token of the user, ``users revoke NAME --token ID`` one of them (their programs and jobs stay
theirs). ``users delete NAME`` deletes a user who owns nothing; ``--force`` deletes their
programs and jobs with them. ``users list`` shows who exists. A reviewer may approve or
reject uploads (admins may too). Every change is written to the audit log as done by the
login name running the command. They work on the store directly, whether or not the daemon
runs; use the same ``--home``/``--database-url``/``--config`` as ``serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.output import console, error_console, print_json
from engine.cli.serve_command import ConfigOption, DatabaseOption, HomeOption, load_settings

if TYPE_CHECKING:
    from engine.accounts import IssuedToken

users_app = typer.Typer(
    help="Manage the daemon's users and their bearer tokens.", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="An existing user.", metavar="NAME")]
ExpiresOption = Annotated[str | None, typer.Option(
    "--expires-in", metavar="DURATION", show_default=False,
    help="The token's lifetime: 90s, 30m, 12h, 30d or 2w (default: policies/accounts.yaml's "
         "default_token_lifetime_seconds, by default none).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


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


def _lifetime(expires_in: str | None) -> float | None:
    """``--expires-in`` in seconds (``None`` when not given)."""
    if expires_in is None:
        return None
    from engine.cli.images_command import parse_duration

    return parse_duration(expires_in).total_seconds()


def _when(value: datetime | None, never: str = "") -> str:
    return never if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _show_token(issued: IssuedToken, as_json: bool) -> None:
    if as_json:
        print_json(issued.to_dict())
    else:
        typer.echo(issued.token)
    expiry = "never expires" if issued.expires_at is None else \
        f"expires {_when(issued.expires_at)}"
    error_console.print(
        f"token {issued.token_id} for {issued.user} ({expiry}): shown once, only its hash "
        f"is stored; keep it secret",
        highlight=False,
    )


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ -).",
                                        metavar="NAME")],
    admin: Annotated[bool, typer.Option("--admin", help="May see and change everything.")] = False,
    reviewer: Annotated[bool, typer.Option(
        "--reviewer", help="May approve or reject uploads (admins may too).")] = False,
    expires_in: ExpiresOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a user and print their bearer token (once)."""
    lifetime = _lifetime(expires_in)
    with _accounts(home, database_url, config) as accounts:
        issued = accounts.add(name, is_admin=admin, is_reviewer=reviewer, expires_in=lifetime)
    _show_token(issued, as_json)


@users_app.command("token")
def token(
    name: NameArgument,
    expires_in: ExpiresOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Issue another bearer token for an existing user (printed once)."""
    lifetime = _lifetime(expires_in)
    with _accounts(home, database_url, config) as accounts:
        issued = accounts.issue_token(name, expires_in=lifetime)
    _show_token(issued, as_json)


@users_app.command("tokens")
def tokens(
    name: NameArgument,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """A user's tokens by id, newest first: valid, expired or revoked (never the secrets)."""
    from datetime import UTC

    from rich.table import Table

    from engine.accounts import token_to_dict

    with _accounts(home, database_url, config) as accounts:
        found = accounts.tokens(name)
    now = datetime.now(UTC)
    if as_json:
        print_json([token_to_dict(item, now) for item in found])
        return
    table = Table("id", "state", "created", "expires", "revoked")
    for item in found:
        table.add_row(item.token_id, item.state(now), _when(item.created_at),
                      _when(item.expires_at, "never"), _when(item.revoked_at))
    console.print(table)


@users_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The user whose tokens to revoke.",
                                        metavar="NAME")],
    token_id: Annotated[str | None, typer.Option(
        "--token", metavar="ID", show_default=False,
        help="Revoke only this token (its id, from `users tokens NAME`).")] = None,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke every token of a user, or one; requests with them get 401 from now on."""
    with _accounts(home, database_url, config) as accounts:
        if token_id is None:
            count = accounts.revoke(name)
        else:
            accounts.revoke_token(name, token_id)
    if token_id is None:
        console.print(f"revoked {count} token(s) of {name}", highlight=False)
    else:
        console.print(f"revoked token {token_id} of {name}", highlight=False)


@users_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The user to delete.", metavar="NAME")],
    force: Annotated[bool, typer.Option(
        "--force", help="Delete their programs and jobs too (their unfinished jobs are "
        "cancelled); without it a user who owns any is refused.")] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete a user and their tokens (to keep their programs and jobs, revoke instead)."""
    with _accounts(home, database_url, config) as accounts:
        deletion = accounts.delete(name, force=force)
    if as_json:
        print_json(deletion.to_dict())
        return
    console.print(f"deleted user {name} with {len(deletion.programs)} program(s) and "
                  f"{deletion.jobs} job(s); {len(deletion.cancelled_jobs)} job(s) cancelled",
                  highlight=False)


@users_app.command("list")
def list_users(
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """The users, whether they are admins, and how many valid tokens they hold."""
    from rich.table import Table

    from engine.accounts import user_to_dict

    with _accounts(home, database_url, config) as accounts:
        users = accounts.list()
    if as_json:
        print_json([user_to_dict(user) for user in users])
        return
    table = Table("name", "admin", "reviewer", "tokens", "created")
    for user in users:
        table.add_row(user.name, "yes" if user.is_admin else "",
                      "yes" if user.is_reviewer or user.is_admin else "",
                      str(user.active_tokens), _when(user.created_at))
    console.print(table)
