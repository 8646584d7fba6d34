"""Every ``--help`` teaches: it shows an example, and its value hints read like ``TEXT``,
``PATH`` or ``SECONDS``, never like Python types (``<str>``, ``<Path>``, ``list[str]``).

The Typer app is walked, so a command added later is checked as well: give it an example in
``engine/cli/help_pages.py`` (``EXAMPLES``) or an epilog of its own. The examples themselves
are checked against the app: each names a command that exists, with options it has.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from engine.cli import app
from engine.cli.help_pages import EXAMPLES

PYTHON_TYPES = re.compile(
    r"<class|<(?:str|int|float|bool|bytes|Path|PosixPath|datetime|list|dict|tuple)\b"
    r"|\b(?:list|dict|tuple)\[|NoneType|Optional\[|typing\.")
#: What is left of "text [default: x]." once Rich took the brackets for markup.
SWALLOWED = re.compile(r"\w \.(?:\s|$)", re.MULTILINE)
HINT = re.compile(r"[A-Z][A-Z0-9_=:.-]*(?:\.\.\.)?|\[[^\]]+\]")


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            yield from _walk(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = dict(_walk(ROOT))


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_finds_the_commands_and_their_groups() -> None:
    assert {("run",), ("scan",), ("jobs", "run"), ("users", "delete"), ("users",)} <= set(
        COMMANDS)
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "(app)")
def test_every_help_shows_an_example_and_readable_hints(path: tuple[str, ...]) -> None:
    shown = _help(path)
    name = " ".join(("program-engine", *path))
    assert re.search(r"^\s*Examples?:", shown, re.MULTILINE), (
        f"`{name} --help` shows no example: add one to EXAMPLES in engine/cli/help_pages.py "
        f"or give the command an epilog\n{shown}")
    assert not PYTHON_TYPES.findall(shown), f"`{name} --help` shows Python types:\n{shown}"
    assert not SWALLOWED.findall(shown), f"`{name} --help` lost text to Rich markup:\n{shown}"
    command = COMMANDS[path]
    context = command.make_context(name, [], resilient_parsing=True)
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        shows = getattr(param, "display_type_rich", None)  # Typer 0.29; click before
        hint = shows(ctx=context) if shows else param.make_metavar(context)
        assert hint is None or HINT.fullmatch(str(hint)), (name, param.name, hint)


@pytest.mark.parametrize("path", sorted(EXAMPLES), ids=lambda p: p or "(app)")
def test_the_examples_use_commands_and_options_that_exist(path: str) -> None:
    for line in EXAMPLES[path]:
        words = shlex.split(line.replace("$(", " ").replace(")", " "))
        words = words[words.index("program-engine") + 1:]
        command, given = ROOT, []
        while words and words[0] in getattr(command, "commands", {}):
            given.append(words[0])
            command = command.commands[words.pop(0)]
        assert given[:len(path.split())] == path.split(), (line, given)  # a group: its own
        options = {opt for param in command.params for opt in param.opts}
        for word in words:
            if word.startswith("-") and word != "-":
                assert word in options, f"{line!r}: {word} is not an option of {given}"


def test_seconds_and_durations_are_named_so() -> None:
    assert re.search(r"--max-execution-time\s+SECONDS", _help(("run",)))
    assert re.search(r"--expires-in\s+DURATION", _help(("users", "token")))
    assert "--expires-in <str>" not in _help(("users", "token"))
