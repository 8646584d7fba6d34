"""The program loader: layouts, the static check of ``main``, and hostile folders."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.errors import MetadataError, ProgramError
from engine.loader import (
    ProgramPolicy,
    check_program_source,
    load_program,
    program_from_source,
    program_policy,
)
from engine.metadata import ProgramMetadata, load_metadata, metadata_policy, validate_inputs
from engine.serialization import RuntimeDecoder

REPO = Path(__file__).resolve().parents[1]
PROGRAM_SOURCE = REPO / "program_source"

MAIN = "def main(backend, user_messenger, **kwargs):\n    return 'done'\n"
METADATA = {"name": "my-program", "description": "A test program.", "max_execution_time": 60}


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    return path


def program_error(source: str, filename: str = "prog.py") -> ProgramError:
    with pytest.raises(ProgramError) as info:
        check_program_source(textwrap.dedent(source), filename)
    assert info.value.filename == filename
    return info.value


def policy_with(**changes: Any) -> ProgramPolicy:
    return program_policy().model_copy(update=changes)


# --- checking the source ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        MAIN,
        "def main(backend, user_messenger):\n    pass\n",
        "def main(b, m, /, *, shots=1024, **kwargs):\n    pass\n",
        "def main(*args, **kwargs):\n    pass\n",
        "def main(backend, *args):\n    pass\n",
        "def main(backend, user_messenger, iterations, seed=None):\n    pass\n",
        "import functools\n\n@functools.lru_cache\ndef main(backend, user_messenger):\n    pass\n",
        "main = None\n\ndef main(backend, user_messenger):\n    pass\n",
        "def main(backend, user_messenger):\n    pass\n\nif __name__ == '__main__':\n"
        "    main(1, 2)\n",
        "# -*- coding: latin-1 -*-\ndef main(backend, user_messenger):\n    return 'caf\xe9'\n",
    ],
)
def test_proper_mains_are_accepted(source: str) -> None:
    check_program_source(source)
    check_program_source(source.encode("latin-1" if "latin-1" in source else "utf-8"))


def test_a_syntax_error_names_the_file_and_line() -> None:
    error = program_error(
        """\
        import json

        def main(backend, user_messenger:
            pass
        """
    )
    assert error.line == 3
    assert str(error).startswith("prog.py:3: syntax error: ")


def test_compile_time_errors_are_syntax_errors_too() -> None:
    error = program_error("def main(backend, user_messenger):\n    pass\nreturn 5\n")
    assert (error.line, "'return' outside function" in str(error)) == (3, True)
    error = program_error("def main(backend, user_messenger):\n    nonlocal x\n")
    assert error.line == 2


def test_undecodable_or_nul_sources_are_refused() -> None:
    with pytest.raises(ProgramError, match=r"prog\.py"):
        check_program_source(b"def main(a, b):\n    return '\xff'\n", "prog.py")
    with pytest.raises(ProgramError, match=r"prog\.py"):
        check_program_source("def main(a, b):\n    pass\n\x00", "prog.py")


def test_deeply_nested_source_is_refused_not_crashed() -> None:
    with pytest.raises(ProgramError, match=r"prog\.py"):
        check_program_source("x = " + "-" * 200_000 + "1\n" + MAIN, "prog.py")


def test_no_main_is_reported() -> None:
    error = program_error("def program(backend, user_messenger):\n    pass\n")
    assert error.line is None
    assert "no function main" in str(error)


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        (
            "class Program:\n    def main(self, backend, user_messenger):\n        pass\n",
            2,
            "inside a class or function",
        ),
        (
            "def outer():\n    def main(backend, user_messenger):\n        pass\n",
            2,
            "inside a class or function",
        ),
        (
            "import sys\nif sys:\n    def main(backend, user_messenger):\n        pass\n",
            3,
            "inside a block",
        ),
        ("async def main(backend, user_messenger):\n    pass\n", 1, "not async def"),
        ("class main:\n    pass\n", 1, "not a class"),
        ("main = lambda backend, user_messenger: None\n", 1, "not bound by an assignment"),
        ("from os import main\n", 1, "not imported"),
        ("import main\n", 1, "not imported"),
        (
            "def main(backend, user_messenger):\n    pass\n\nmain = print\n",
            4,
            "re-binds the main defined at line 1",
        ),
        (
            "def main(backend, user_messenger):\n    pass\n\nfor main in range(3):\n    pass\n",
            4,
            "re-binds",
        ),
        (
            "def main(backend, user_messenger):\n    pass\n\ntry:\n    pass\n"
            "except Exception as main:\n    pass\n",
            6,
            "re-binds",
        ),
    ],
)
def test_main_must_be_a_top_level_def(source: str, line: int, expected: str) -> None:
    error = program_error(source)
    assert error.line == line
    assert expected in str(error)


@pytest.mark.parametrize(
    "signature",
    [
        "def main():",
        "def main(backend):",
        "def main(*, backend, user_messenger):",
        "def main(**kw):",
    ],
)
def test_main_must_take_two_positional_parameters(signature: str) -> None:
    error = program_error(f"import os\n\n{signature}\n    pass\n")
    assert error.line == 3
    assert "main must take backend and user_messenger as its first two positional" in str(error)


def test_swapped_parameters_are_a_bug() -> None:
    error = program_error("def main(user_messenger, backend):\n    pass\n")
    assert "swapped" in str(error)


def test_a_source_larger_than_the_policy_is_refused() -> None:
    policy = policy_with(max_source_bytes=100)
    with pytest.raises(ProgramError, match="larger than 100 bytes"):
        check_program_source(MAIN + "#" * 100, "big.py", policy=policy)


def test_the_source_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\n{MAIN}"
    check_program_source(source)
    program = load_program(write(tmp_path / "prog.py", source))
    assert program.entry == "prog"
    assert not marker.exists()


# --- a single file -----------------------------------------------------------------------------


def test_a_single_file_program(tmp_path: Path) -> None:
    path = write(tmp_path / "hello_world.py", MAIN)
    program = load_program(path)
    assert (program.name, program.entry, program.metadata) == ("hello-world", "hello_world", None)
    assert dict(program.files) == {"hello_world.py": MAIN.encode()}
    assert program.entry_source == MAIN.encode()
    defaults = program.effective_metadata()
    assert defaults.name == "hello-world"
    assert defaults.max_execution_time == metadata_policy().max_execution_time.default
    assert len(program.source_hash) == 64


def test_a_single_file_uses_the_metadata_beside_it(tmp_path: Path) -> None:
    path = write(tmp_path / "prog.py", MAIN)
    write(tmp_path / "prog.json", json.dumps(METADATA))
    program = load_program(path)
    assert program.name == "my-program"
    assert program.metadata == load_metadata(METADATA)
    assert program.effective_metadata() is program.metadata


def test_single_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="cannot read the program"):
        load_program(tmp_path / "missing.py")
    with pytest.raises(ProgramError, match=r"a NAME\.py file or a folder"):
        load_program(write(tmp_path / "prog.txt", MAIN))
    with pytest.raises(ProgramError, match="'hello-world' is not a Python module name"):
        load_program(write(tmp_path / "hello-world.py", MAIN))
    with pytest.raises(ProgramError, match="would shadow"):
        load_program(write(tmp_path / "random.py", MAIN))
    broken = write(tmp_path / "broken.py", "def main(backend, user_messenger)\n")
    with pytest.raises(ProgramError, match=r"broken\.py:1: syntax error"):
        load_program(broken)


def test_program_from_source_text() -> None:
    metadata = load_metadata({**METADATA, "name": "hello-world"})
    program = program_from_source(MAIN, metadata=metadata)
    assert (program.entry, program.name, list(program.files)) == (
        "hello_world",
        "hello-world",
        ["hello_world.py"],
    )
    assert program_from_source(MAIN).entry == "program"
    assert program_from_source(MAIN, entry="job").entry_file == "job.py"
    numeric = load_metadata({**METADATA, "name": "2fast"})
    assert program_from_source(MAIN, metadata=numeric).entry == "program_2fast"
    with pytest.raises(ProgramError, match="no function main"):
        program_from_source("x = 1\n")


# --- folders -----------------------------------------------------------------------------------


def test_a_folder_named_after_its_entry(tmp_path: Path) -> None:
    root = tmp_path / "hello_world"
    write(root / "hello_world.py", "from helpers import util\n" + MAIN)
    write(root / "hello_world.json", json.dumps(METADATA))
    write(root / "helpers" / "__init__.py", "")
    write(root / "helpers" / "util.py", "X = 1\n")
    write(root / "data" / "table.csv", "a,b\n1,2\n")
    write(root / "__pycache__" / "hello_world.cpython-311.pyc", b"\x00\x01")
    program = load_program(root)
    assert program.entry == "hello_world"
    assert program.name == "my-program"
    assert list(program.files) == [
        "data/table.csv",
        "hello_world.py",
        "helpers/__init__.py",
        "helpers/util.py",
    ]


def test_the_entry_is_the_one_module_with_metadata(tmp_path: Path) -> None:
    write(tmp_path / "app" / "runner.py", MAIN)
    write(tmp_path / "app" / "runner.json", json.dumps(METADATA))
    write(tmp_path / "app" / "tools.py", "def helper():\n    pass\n")
    write(tmp_path / "app" / "inputs.json", "{}")
    program = load_program(tmp_path / "app")
    assert program.entry == "runner"
    assert sorted(program.files) == ["inputs.json", "runner.py", "tools.py"]


def test_the_entry_is_the_single_module(tmp_path: Path) -> None:
    write(tmp_path / "app" / "solo.py", MAIN)
    program = load_program(tmp_path / "app")
    assert (program.entry, program.metadata, program.name) == ("solo", None, "solo")


def test_an_ambiguous_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "app" / "one.py", MAIN)
    write(tmp_path / "app" / "two.py", MAIN)
    with pytest.raises(ProgramError, match=r"cannot tell the entry module.*one\.py, two\.py"):
        load_program(tmp_path / "app")
    write(tmp_path / "empty" / "README.md", "nothing")
    with pytest.raises(ProgramError, match=r"found: no \.py file"):
        load_program(tmp_path / "empty")


def test_only_the_entry_needs_main_but_every_module_must_compile(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    write(root / "lib" / "broken.py", "def f(:\n    pass\n")
    with pytest.raises(ProgramError) as info:
        load_program(root)
    assert info.value.filename == str(root / "lib" / "broken.py")
    assert info.value.line == 1
    write(root / "lib" / "broken.py", "def f():\n    pass\n")
    load_program(root)
    write(root / "prog.py", "def not_main():\n    pass\n")
    with pytest.raises(ProgramError, match=r"prog\.py: no function main"):
        load_program(root)


def test_bad_metadata_in_a_folder_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    write(root / "prog.json", json.dumps({**METADATA, "max_execution_time": 0}))
    with pytest.raises(MetadataError) as info:
        load_program(root)
    assert str(info.value).startswith(f"{root / 'prog.json'}: ")
    assert [location for location, _ in info.value.problems] == ["max_execution_time"]


def test_the_source_hash_follows_the_content(tmp_path: Path) -> None:
    first = tmp_path / "a" / "prog"
    second = tmp_path / "b" / "prog"
    for root in (first, second):
        write(root / "prog.py", MAIN)
        write(root / "util.py", "X = 1\n")
    write(second / "prog.json", json.dumps(METADATA))
    assert load_program(first).source_hash == load_program(second).source_hash
    assert load_program(first) != load_program(second)  # different metadata
    write(second / "util.py", "X = 2\n")
    assert load_program(first).source_hash != load_program(second).source_hash
    renamed = tmp_path / "c" / "prog"
    write(renamed / "prog.py", MAIN)
    write(renamed / "util2.py", "X = 1\n")
    assert load_program(first).source_hash != load_program(renamed).source_hash


def test_a_program_source_is_immutable(tmp_path: Path) -> None:
    program = load_program(write(tmp_path / "prog.py", MAIN))
    with pytest.raises(TypeError):
        program.files["evil.py"] = b""  # type: ignore[index]
    with pytest.raises(AttributeError):
        program.entry = "other"  # type: ignore[misc]
    assert hash(program) == hash(load_program(tmp_path / "prog.py"))


# --- hostile folders ---------------------------------------------------------------------------


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    for i in range(5):
        write(root / "data" / f"f{i}.txt", "x")
    with pytest.raises(ProgramError, match=r"more than 5 files \(policy max_files\)"):
        load_program(root, policy=policy_with(max_files=5))
    assert len(load_program(root, policy=policy_with(max_files=6)).files) == 6


def test_too_many_folders_or_entries_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    for i in range(4):
        (root / f"empty{i}").mkdir()
    with pytest.raises(ProgramError, match=r"more than 3 folders \(policy max_files\)"):
        load_program(root, policy=policy_with(max_files=3))
    wide = tmp_path / "wide"
    write(wide / "wide.py", MAIN)
    for i in range(50):
        (wide / f"d{i}").mkdir()
    with pytest.raises(ProgramError, match=r"the folder has more than 3 entries"):
        load_program(wide, policy=policy_with(max_files=3, ignored_names=frozenset()))
    assert load_program(wide).entry == "wide"


def test_a_folder_larger_than_the_policy_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    write(root / "blob.bin", b"\x00" * 2000)
    with pytest.raises(ProgramError, match=r"larger than 1500 bytes \(policy max_total_bytes\)"):
        load_program(root, policy=policy_with(max_total_bytes=1500))
    write(root / "big.py", "# " + "x" * 3000 + "\n")
    with pytest.raises(ProgramError, match=r"big\.py: larger than 1000 bytes"):
        load_program(root, policy=policy_with(max_source_bytes=1000))


def test_deep_folders_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    write(root / "a" / "b" / "c" / "deep.txt", "x")
    with pytest.raises(ProgramError, match=r"deeper than 2 levels \(policy max_depth\)"):
        load_program(root, policy=policy_with(max_depth=2))
    assert "a/b/c/deep.txt" in load_program(root, policy=policy_with(max_depth=3)).files


def test_a_symlink_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.txt", "password")
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    os.symlink(secret, root / "leak.txt")
    with pytest.raises(ProgramError, match=r"leak\.txt: symlink leads outside the program folder"):
        load_program(root)
    (root / "leak.txt").unlink()
    os.symlink("../secret.txt", root / "relative_leak.txt")
    with pytest.raises(ProgramError, match="outside the program folder"):
        load_program(root)
    (root / "relative_leak.txt").unlink()
    write(tmp_path / "elsewhere" / "x.py", "X = 1\n")
    os.symlink(tmp_path / "elsewhere", root / "lib")
    with pytest.raises(ProgramError, match="outside the program folder"):
        load_program(root)


def test_symlinks_inside_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    write(root / "data" / "real.txt", "content")
    os.symlink("data/real.txt", root / "alias.txt")
    assert load_program(root).files["alias.txt"] == b"content"
    os.symlink("data", root / "folder_alias")
    with pytest.raises(ProgramError, match="symlinks to folders are not followed"):
        load_program(root)
    (root / "folder_alias").unlink()
    os.symlink("nowhere.txt", root / "dangling.txt")
    with pytest.raises(ProgramError, match="does not lead to a regular file"):
        load_program(root)


def test_special_files_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    os.mkfifo(root / "pipe")
    with pytest.raises(ProgramError, match="pipe: not a regular file"):
        load_program(root)


@pytest.mark.parametrize("name", ["helper.pyc", "ext.cpython-311-x86_64-linux-gnu.so", "m.pyd"])
def test_compiled_or_native_code_is_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    write(root / "lib" / name, b"\x7fELF")
    with pytest.raises(ProgramError, match="compiled or native code"):
        load_program(root)


@pytest.mark.parametrize(
    ("layout", "module"),
    [
        ({"json.py": "X = 1\n"}, "json"),
        ({"qiskit/__init__.py": ""}, "qiskit"),
        ({"engine.py": "X = 1\n"}, "engine"),
    ],
)
def test_top_level_modules_may_not_shadow_what_the_sandbox_imports(
    tmp_path: Path, layout: dict[str, str], module: str
) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    for relative, text in layout.items():
        write(root / relative, text)
    with pytest.raises(ProgramError, match=f"a module named '{module}' would shadow"):
        load_program(root)


def test_nested_modules_may_reuse_standard_names(tmp_path: Path) -> None:
    root = tmp_path / "prog"
    write(root / "prog.py", MAIN)
    write(root / "mylib" / "__init__.py", "")
    write(root / "mylib" / "json.py", "X = 1\n")
    write(root / "random" / "notes.txt", "a data folder, not a package")
    assert "mylib/json.py" in load_program(root).files


def test_the_shipped_policy_is_valid() -> None:
    policy = program_policy()
    assert policy.max_source_bytes <= policy.max_total_bytes
    assert ".so" in policy.refused_suffixes
    assert policy.is_reserved("os") and policy.is_reserved("qiskit")
    assert not policy.is_reserved("hello_world")


# --- the sample programs -----------------------------------------------------------------------


def sample_folders() -> list[Path]:
    return sorted(path for path in PROGRAM_SOURCE.iterdir() if path.is_dir())


@pytest.mark.parametrize("folder", sample_folders(), ids=lambda path: path.name)
def test_every_sample_program_loads_with_complete_metadata(folder: Path) -> None:
    program = load_program(folder)
    assert program.entry == folder.name
    metadata = program.metadata
    assert isinstance(metadata, ProgramMetadata)
    assert metadata.name == folder.name.replace("_", "-")
    for schema in ("parameters", "return_values", "interim_results"):
        assert getattr(metadata.spec, schema) is not None, f"{folder.name}: spec.{schema}"
    inputs_file = folder / "inputs.json"
    if inputs_file.exists():
        inputs = json.loads(inputs_file.read_text(), cls=RuntimeDecoder)
        validate_inputs(metadata, inputs)


def test_the_samples_are_all_there() -> None:
    names = {path.name for path in sample_folders()}
    assert {"hello_world", "sample_program", "circuit_runner"} <= names
