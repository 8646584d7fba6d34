"""What every ``--help`` shows beyond Typer's defaults: examples, and readable value hints.

:func:`teach` runs once the command groups have registered themselves on the app:

* every command and group without an epilog of its own gets the examples :data:`EXAMPLES`
  holds for its path (``"jobs run"``), shown under the options as "Examples:" (a command
  may carry its own epilog instead);
* a parameter's value hint reads like ``TEXT``, ``INTEGER``, ``NUMBER``, ``PATH``, ``FILE``,
  ``FOLDER``, ``TIME`` or ``[a|b]``, as click shows it, where Typer 0.29 shows the Python
  type (``<str>``, ``<Path>``, ``list[str]``); a ``metavar`` given on an option
  (``SECONDS``, ``DURATION``) still wins.

``tests/cli/test_cli_help.py`` walks the whole app and checks both for every command.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import typer

_PE = "program-engine"

#: A command's path (``""`` is the app itself) -> example lines, each a command to type.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (f"{_PE} run program_source/hello_world --input iterations=2",
         f"{_PE} scan my_program.py",
         f"{_PE} serve --port 8787"),
    "run": (f"{_PE} run program_source/hello_world --input iterations=2",
            f"{_PE} run my_program.py --inputs inputs.json --max-execution-time 60 --json"),
    "serve": (f"{_PE} serve",
              f"{_PE} serve --host 127.0.0.1 --port 8787 --home /var/lib/program-engine",
              f"{_PE} serve --config /etc/program-engine/engine.yaml"),
    "version": (f"{_PE} version",),
    "programs": (f"ID=$({_PE} programs upload program_source/hello_world)",
                 f"{_PE} programs list"),
    "programs upload": (f"ID=$({_PE} programs upload program_source/hello_world)",
                        f"{_PE} programs upload my_program.py --metadata meta.json --new"),
    "programs update": (f'{_PE} programs update "$ID" program_source/hello_world',
                        f'{_PE} programs update "$ID" --description "Counts to ten."'),
    "programs list": (f"{_PE} programs list --limit 5", f"{_PE} programs list --json"),
    "programs show": (f'{_PE} programs show "$ID"',),
    "programs delete": (f'{_PE} programs delete "$ID"',),
    "programs visibility": (f'{_PE} programs visibility "$ID" public',),
    "jobs": (f'{_PE} jobs run "$ID" --input iterations=2 --wait',
             f"{_PE} jobs list --status running"),
    "jobs run": (f'{_PE} jobs run "$ID" --input iterations=2 --wait',
                 f'{_PE} jobs run "$ID" --inputs inputs.json --url http://127.0.0.1:8787 '
                 f'--token "$TOKEN"'),
    "jobs list": (f"{_PE} jobs list --status running", f'{_PE} jobs list --program "$ID" --json'),
    "jobs show": (f'{_PE} jobs show "$JOB"',),
    "jobs result": (f'{_PE} jobs result "$JOB" --wait --json',),
    "jobs interim": (f'{_PE} jobs interim "$JOB" --json',),
    "jobs logs": (f'{_PE} jobs logs "$JOB" --follow',),
    "jobs cancel": (f'{_PE} jobs cancel "$JOB"',),
    "jobs delete": (f'{_PE} jobs delete "$JOB"',),
    "users": (f"TOKEN=$({_PE} users add alice)", f"{_PE} users tokens alice"),
    "users add": (f"TOKEN=$({_PE} users add alice)",
                  f"{_PE} users add ci-bot --expires-in 90d --json",
                  f"{_PE} users add root --admin --home /var/lib/program-engine"),
    "users token": (f"{_PE} users token alice --expires-in 30d",),
    "users tokens": (f"{_PE} users tokens alice", f"{_PE} users tokens alice --json"),
    "users revoke": (f"{_PE} users revoke alice --token 3f2a9c01d2e4",
                     f"{_PE} users revoke alice"),
    "users delete": (f"{_PE} users delete alice", f"{_PE} users delete alice --force"),
    "users list": (f"{_PE} users list", f"{_PE} users list --json"),
    "images": (f"{_PE} images build", f"{_PE} images prune --older-than 7d --dry-run"),
    "images build": (f"{_PE} images build",),
    "images list": (f"{_PE} images list", f"{_PE} images list --kind program --json"),
    "images prune": (f"{_PE} images prune --older-than 7d --dry-run",
                     f"{_PE} images prune --unused-for 30d",
                     f"{_PE} images prune --kind program --kind build-stage"),
    "sandboxes": (f"{_PE} sandboxes", f"{_PE} sandboxes --json"),
    "review": (f"{_PE} review list", f'{_PE} review approve "$ID" 2 --comment "Reviewed."'),
    "review list": (f"{_PE} review list", f"{_PE} review list --status all --json"),
    "review show": (f'{_PE} review show "$ID" 2',),
    "review approve": (f'{_PE} review approve "$ID" 2 --comment "Reviewed."',),
    "review reject": (f'{_PE} review reject "$ID" 2 --comment "Reads files it does not need."',),
    "audit": (f"{_PE} audit list --action user.add", f"{_PE} audit verify"),
    "audit list": (f"{_PE} audit list --since 2026-12-01 --actor root",
                   f"{_PE} audit list --object alice --json"),
    "audit verify": (f"{_PE} audit verify",),
}


def epilog(lines: tuple[str, ...]) -> str:
    """The help epilog showing ``lines``, one example a line (``[`` escaped: Rich markup)."""
    heading = "Example:" if len(lines) == 1 else "Examples:"
    return "\n\n".join([heading, *(line.replace("[", "\\[") for line in lines)])


def teach(app: typer.Typer) -> None:
    """Examples on every help page of ``app``, and readable value hints (see above)."""
    add_examples(app)
    _readable_hints()


def add_examples(app: typer.Typer, path: tuple[str, ...] = ()) -> None:
    """Give every command and group of ``app`` (and of its groups) its examples as its
    epilog, unless it has an epilog of its own."""
    _set(app.info, path)
    for command in app.registered_commands:
        name = command.name or _command_name(command.callback)
        _set(command, (*path, name))
    for group in app.registered_groups:
        name = group.name if isinstance(group.name, str) else group.typer_instance.info.name
        _set(group, (*path, str(name)))
        add_examples(group.typer_instance, (*path, str(name)))


def _set(info: Any, path: tuple[str, ...]) -> None:
    lines = EXAMPLES.get(" ".join(path))
    if lines and not isinstance(info.epilog, str) and not _shows_example(info):
        info.epilog = epilog(lines)


def _shows_example(info: Any) -> bool:
    """Whether a command's own help text (its docstring) has an example already."""
    text = getattr(getattr(info, "callback", None), "__doc__", None) or ""
    return "Example:" in text or "Examples:" in text


def _command_name(callback: Any) -> str:
    return str(getattr(callback, "__name__", "")).lower().replace("_", "-")


# --- value hints -----------------------------------------------------------------------------

_HINTS: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "NUMBER", bool: "BOOLEAN",
                          datetime: "TIME", Path: "PATH"}
_PATH_HINTS = {"file": "FILE", "dir": "FOLDER", "path": "PATH"}


def value_hint(param: Any) -> str:
    """A Typer parameter's value hint: the kind of value it takes, in click's words (none
    for a flag, which takes no value)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    desc = param.type_descriptor
    if desc.is_choice:
        values = (getattr(choice, "value", choice) for choice in desc.choices or ())
        return "[" + "|".join(str(value) for value in values) + "]"
    if desc.is_path:
        return _PATH_HINTS.get(desc.path_type, "PATH")
    annotation = desc.annotation
    if get_origin(annotation) in (list, tuple):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        annotation = args[0] if args else str
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "[" + "|".join(str(member.value) for member in annotation) + "]"
    return _HINTS.get(annotation, "TEXT")


def _readable_hints() -> None:
    """Make Typer show :func:`value_hint` where it would show a Python type.

    Typer 0.29 renders ``display_type`` (``<str>``) as every parameter's hint; older Typer
    versions have no such method and show click's names already, so nothing is changed there.
    """
    from typer import core

    base = getattr(core, "_TyperParameter", None)
    if base is None or not hasattr(base, "display_type"):
        return
    base.display_type = lambda self, ctx: value_hint(self)
