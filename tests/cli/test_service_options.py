"""The CLI's common service options, its one-line errors and its input parsing (no Docker)."""

from __future__ import annotations

import getpass
import json
import sys

import pytest
import typer

from engine.cli.inputs import read_inputs
from engine.cli.service_options import ServiceOptions, one_line
from engine.errors import InputValidationError, MetadataError


def test_the_user_comes_from_the_flag_then_the_environment_then_the_login():
    assert ServiceOptions(user="carol").resolve({"PROGRAM_ENGINE_USER": "bob"}).user == "carol"
    assert ServiceOptions().resolve({"PROGRAM_ENGINE_USER": "bob"}).user == "bob"
    assert ServiceOptions().resolve({}).user == getpass.getuser()
    assert ServiceOptions().resolve({"PROGRAM_ENGINE_USER": "  "}).user == getpass.getuser()


def test_embedded_mode_keeps_home_and_database_url(tmp_path):
    resolved = ServiceOptions(home=tmp_path, database_url="sqlite:///x.db").resolve({})
    assert not resolved.remote
    assert (resolved.home, resolved.database_url) == (tmp_path, "sqlite:///x.db")


def test_remote_mode_from_the_environment():
    resolved = ServiceOptions().resolve(
        {"PROGRAM_ENGINE_URL": "http://127.0.0.1:8787", "PROGRAM_ENGINE_TOKEN": "t0k"}
    )
    assert resolved.remote and resolved.url == "http://127.0.0.1:8787"
    assert resolved.token == "t0k" and resolved.user is None and resolved.home is None


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [
        (ServiceOptions(token="t0k"), {}, "--token needs --url"),
        (ServiceOptions(home="/tmp"), {"PROGRAM_ENGINE_URL": "http://h"},
         "--home applies to the embedded store"),
        (ServiceOptions(url="http://h", user="bob", database_url="sqlite://"), {},
         "--user, --database-url apply to the embedded store"),
        (ServiceOptions(user=" "), {}, "--user must not be empty"),
    ],
)
def test_combinations_that_make_no_sense_are_usage_errors(given, environ, expected, capsys):
    with pytest.raises(typer.Exit) as exited:
        given.resolve(environ)
    assert exited.value.exit_code == 2
    assert expected in capsys.readouterr().err


def test_remote_mode_without_the_client_module_is_a_clear_usage_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "engine.client", None)  # the module cannot be imported
    with pytest.raises(typer.Exit) as exited:
        ServiceOptions(url="http://127.0.0.1:8787").resolve({}).connect()
    assert exited.value.exit_code == 2
    err = capsys.readouterr().err
    assert "engine.client.RemoteRuntimeService" in err and "--url" in err


def test_one_line_keeps_every_problem():
    error = MetadataError("invalid program metadata (2 problems):\n  description: required\n"
                          "  max_execution_time: required")
    assert one_line(error) == (
        "invalid program metadata (2 problems): description: required; max_execution_time: "
        "required"
    )
    assert one_line(InputValidationError([("iterations", "-1 is less than 0")])) == (
        "1 invalid inputs: iterations: -1 is less than 0"
    )
    assert one_line(KeyError()) == "KeyError"


def test_inputs_from_pairs_and_from_a_file(tmp_path):
    assert read_inputs(None, ["iterations=2", 'name="x"', "xs=[1, 2.5]"]) == {
        "iterations": 2, "name": "x", "xs": [1, 2.5]
    }
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps({"iterations": 3}))
    assert read_inputs(path, []) == {"iterations": 3}
    assert read_inputs(None, []) == {}


@pytest.mark.parametrize(
    ("file_text", "pairs", "expected"),
    [
        ('{"a": 1}', ["b=2"], "give --inputs or --input, not both"),
        (None, ["novalue"], "expected KEY=JSON"),
        (None, ["=1"], "expected KEY=JSON"),
        (None, ["name=bare"], "--input name: value 'bare' is not JSON"),
        ("[1, 2]", [], "must hold a JSON object"),
        ("{not json", [], "not valid JSON"),
    ],
)
def test_unreadable_inputs_name_the_option(tmp_path, file_text, pairs, expected):
    path = None
    if file_text is not None:
        path = tmp_path / "inputs.json"
        path.write_text(file_text)
    with pytest.raises(InputValidationError) as refused:
        read_inputs(path, pairs)
    assert expected in str(refused.value)


def test_a_missing_inputs_file_names_it(tmp_path):
    with pytest.raises(InputValidationError, match=r"--inputs .*missing\.json: cannot read"):
        read_inputs(tmp_path / "missing.json", [])
