"""Loading a program from disk, statically: its files, its entry module and its metadata.

Nothing here imports or runs the program; the source is only parsed and compiled to check it.
This module is host-side: the sandbox runner never imports it.

A program is either

- a single ``NAME.py``; a ``NAME.json`` next to it, if there is one, is its metadata; or
- a folder. Its entry module is found by the first rule that applies:

  1. ``FOLDER/FOLDER.py`` (as in ``program_source/hello_world/hello_world.py``);
  2. the one top-level ``NAME.py`` that has a ``NAME.json`` beside it;
  3. the one top-level ``.py`` file.

  The metadata is ``NAME.json`` beside the entry ``NAME.py``, if present. Other files and
  subfolders are part of the program (helper modules, data files).

The entry module must define ``main`` with a top-level ``def`` whose first two positional
parameters receive the backend and the user messenger. Any names are accepted (the original
service's are ``backend`` and ``user_messenger``; the two swapped is refused as a bug), and so
is a ``*args`` that takes them (``def main(*args, **kwargs)``). ``main`` may not be
``async``, a class, an assignment or an import, nor be re-bound later in the module.

Hostile folders are expected: sizes and file counts are bounded (``policies/program.yaml``),
only regular files and folders are taken, a symlink is followed only to a regular file inside
the program folder, compiled or native modules are refused, and a program's top-level
modules may not shadow the standard library or what the runner imports.
"""

from __future__ import annotations

import ast
import hashlib
import keyword
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, PositiveInt

from engine.errors import MetadataError, ProgramError
from engine.metadata import MetadataPolicy, ProgramMetadata, load_metadata
from engine.policy_files import load_policy_model

__all__ = [
    "ProgramPolicy",
    "ProgramSource",
    "check_program_source",
    "load_program",
    "program_from_files",
    "program_from_source",
    "program_policy",
]


class ProgramPolicy(BaseModel):
    """``policies/program.yaml``: limits and rules for program sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_source_bytes: PositiveInt
    max_total_bytes: PositiveInt
    max_files: PositiveInt
    max_depth: PositiveInt
    ignored_names: frozenset[str] = frozenset()
    refused_suffixes: tuple[str, ...] = ()
    reserved_module_names: frozenset[str] = frozenset()

    def is_reserved(self, module: str) -> bool:
        """Whether a top-level module of this name would shadow one the sandbox needs."""
        return module in self.reserved_module_names or module in sys.stdlib_module_names


@lru_cache(maxsize=1)
def program_policy() -> ProgramPolicy:
    """The program policy from ``policies/program.yaml``, read once."""
    return load_policy_model("program", ProgramPolicy)


@dataclass(frozen=True)
class ProgramSource:
    """A program as loaded: every file it consists of, its entry module and its metadata.

    ``files`` maps POSIX paths relative to the program folder to their bytes; the metadata
    file is not among them (it is parsed into ``metadata``). ``source_hash`` is the SHA-256
    of ``files`` (paths and contents), so identical programs hash alike.
    """

    name: str
    entry: str
    files: Mapping[str, bytes] = field(repr=False)
    metadata: ProgramMetadata | None
    source_hash: str

    def __hash__(self) -> int:
        return hash((self.name, self.entry, self.source_hash))

    @property
    def entry_file(self) -> str:
        """The entry module's path within ``files``, e.g. ``hello_world.py``."""
        return f"{self.entry}.py"

    @property
    def entry_source(self) -> bytes:
        """The entry module's source."""
        return self.files[self.entry_file]

    def effective_metadata(self, policy: MetadataPolicy | None = None) -> ProgramMetadata:
        """The metadata, or the defaults for a program without any."""
        if self.metadata is not None:
            return self.metadata
        return ProgramMetadata.for_script(self.entry_file, policy=policy)


# --- checking a source -----------------------------------------------------------------------


def check_program_source(
    source: str | bytes, filename: str = "<program>", *, policy: ProgramPolicy | None = None
) -> None:
    """Check that ``source`` compiles and defines a proper top-level ``main``.

    Raises :class:`ProgramError` naming ``filename``, the line, and what is wrong.
    """
    tree = _compile(source, filename, policy or program_policy())
    _check_main(tree, filename)


def _compile(source: str | bytes, filename: str, policy: ProgramPolicy) -> ast.Module:
    size = len(source.encode("utf-8", "surrogatepass")) if isinstance(source, str) else len(source)
    if size > policy.max_source_bytes:
        raise ProgramError(
            f"source is larger than {policy.max_source_bytes} bytes (policy max_source_bytes)",
            filename,
        )
    try:
        tree = ast.parse(source, filename=filename)
        compile(tree, filename, "exec", dont_inherit=True)  # symbol-table errors, no execution
    except SyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise ProgramError(f"syntax error: {exc.msg}", filename, line) from None
    except (ValueError, UnicodeError) as exc:  # e.g. a NUL byte in the source
        raise ProgramError(f"cannot parse the source: {exc}", filename) from None
    except (RecursionError, MemoryError):
        raise ProgramError("the source is nested too deeply to parse", filename) from None
    return tree


_SIGNATURE_RULE = (
    "main must take backend and user_messenger as its first two positional parameters, "
    "as in def main(backend, user_messenger, **kwargs)"
)


def _check_main(tree: ast.Module, filename: str) -> None:
    bindings = list(_module_bindings(tree, "main"))
    if not bindings:
        nested = next(
            (
                node
                for node in ast.walk(tree)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main"
            ),
            None,
        )
        if nested is not None:
            raise ProgramError(
                "main is defined inside a class or function; define it at the top level of "
                "the module",
                filename,
                nested.lineno,
            )
        raise ProgramError(
            "no function main: a program must define main(backend, user_messenger, **kwargs) "
            "at the top level",
            filename,
        )
    definition, top_level = bindings[-1]
    if not isinstance(definition, ast.FunctionDef):
        if isinstance(definition, ast.AsyncFunctionDef):
            problem = "main must be a plain function (def), not async def"
        elif isinstance(definition, ast.ClassDef):
            problem = "main must be a function, not a class"
        else:
            problem = "main must be defined with a top-level def, not bound by an assignment"
            if isinstance(definition, (ast.Import, ast.ImportFrom)):
                problem = "main must be defined with a top-level def, not imported"
        earlier = [node for node, _ in bindings[:-1] if isinstance(node, ast.FunctionDef)]
        if earlier:
            problem += f" (line {definition.lineno} re-binds the main defined at line "
            problem += f"{earlier[-1].lineno})"
        raise ProgramError(problem, filename, definition.lineno)
    if not top_level:
        raise ProgramError(
            "main is defined inside a block (if, try, with, for or while); define it at the "
            "top level of the module",
            filename,
            definition.lineno,
        )
    _check_signature(definition, filename)


def _check_signature(main: ast.FunctionDef, filename: str) -> None:
    arguments = main.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if len(positional) >= 2:
        first, second = positional[0].arg, positional[1].arg
        if (first, second) == ("user_messenger", "backend"):
            raise ProgramError(
                f"{_SIGNATURE_RULE}; here they are swapped (main({first}, {second}, ...))",
                filename,
                main.lineno,
            )
        return
    if arguments.vararg is not None:  # main(*args), main(backend, *args): both are taken
        return
    names = ", ".join(argument.arg for argument in positional) or "none"
    raise ProgramError(
        f"{_SIGNATURE_RULE} (positional parameters here: {names})", filename, main.lineno
    )


def _module_bindings(tree: ast.Module, name: str) -> list[tuple[ast.AST, bool]]:
    """Statements that bind ``name`` in module scope, in source order, with "direct child"."""
    found: list[tuple[ast.AST, bool]] = []

    def visit(statements: list[ast.stmt], top_level: bool) -> None:
        for statement in statements:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if statement.name == name:
                    found.append((statement, top_level))
                continue  # their bodies are another scope
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                for alias in statement.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    if bound == name:
                        found.append((statement, top_level))
                continue
            if _stores_name(statement, name):
                found.append((statement, top_level))
            for block in ("body", "orelse", "finalbody"):
                visit(getattr(statement, block, None) or [], False)
            for handler in getattr(statement, "handlers", None) or []:
                if handler.name == name:
                    found.append((handler, False))
                visit(handler.body, False)
            for case in getattr(statement, "cases", None) or []:
                visit(case.body, False)

    visit(tree.body, True)
    return found


def _stores_name(statement: ast.stmt, name: str) -> bool:
    """Whether the statement's own expressions (not nested blocks or scopes) bind ``name``."""
    parts: list[ast.AST] = []
    for field_name, value in ast.iter_fields(statement):
        if field_name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        parts.extend(value if isinstance(value, list) else [value])
    stack = [part for part in parts if isinstance(part, ast.AST)]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)):
            continue
        if isinstance(node, ast.GeneratorExp):
            continue
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return True
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name == name:
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


# --- loading from disk -----------------------------------------------------------------------


def load_program(
    path: str | os.PathLike[str],
    *,
    policy: ProgramPolicy | None = None,
    metadata_policy: MetadataPolicy | None = None,
) -> ProgramSource:
    """Load a program (``NAME.py`` or a folder, see the module docstring) and check it.

    Raises :class:`ProgramError` for a source or layout problem and
    :class:`~engine.errors.MetadataError` for bad metadata, each naming the file.
    """
    policy = policy or program_policy()
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ProgramError(f"cannot read the program: {exc.strerror or exc}", str(path)) from None
    if stat.S_ISDIR(mode):
        return _Folder(path, policy, metadata_policy).load()
    if stat.S_ISREG(mode):
        return _load_single_file(path, policy, metadata_policy)
    raise ProgramError("a program is a NAME.py file or a folder", str(path))


def program_from_source(
    source: str | bytes,
    *,
    metadata: ProgramMetadata | None = None,
    entry: str | None = None,
    policy: ProgramPolicy | None = None,
) -> ProgramSource:
    """A one-file program from its source text, as an upload hands it over.

    The entry module's name is ``entry``, or derived from the metadata's name
    (``hello-world`` becomes ``hello_world``), or ``program``.
    """
    policy = policy or program_policy()
    if entry is None:
        entry = _module_name_for(metadata.name if metadata else "program", policy)
    filename = f"{entry}.py"
    _check_module_name(entry, filename, policy)
    data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    check_program_source(data, filename, policy=policy)
    return _source(entry, {filename: data}, metadata)


def program_from_files(
    entry: str,
    files: Mapping[str, bytes],
    metadata: ProgramMetadata | None = None,
    *,
    policy: ProgramPolicy | None = None,
) -> ProgramSource:
    """A program from files already loaded (for example from the store), checked again."""
    policy = policy or program_policy()
    filename = f"{entry}.py"
    _check_module_name(entry, filename, policy)
    if filename not in files:
        raise ProgramError(f"the entry module {filename} is not among the program's files", entry)
    check_program_source(files[filename], filename, policy=policy)
    return _source(entry, dict(files), metadata)


#: The longest string taken as a path; anything longer is source text.
MAX_PATH_CHARS = 4096


def looks_like_path(data: object) -> bool:
    """Whether ``data`` names a program on disk rather than holding its source text.

    The one place this is decided, for the service, ``program-engine run`` and the remote
    client alike: a path object is a path; a string is a path when it is one short line
    that exists, ends in ``.py`` or contains a path separator without a ``(`` (a one-line
    program always has one, in ``def main(...)``). Everything else is source text.
    """
    if isinstance(data, os.PathLike):
        return True
    if not isinstance(data, str) or "\n" in data or len(data) > MAX_PATH_CHARS:
        return False
    text = data.strip()
    return bool(text) and (
        Path(text).exists() or text.endswith(".py") or ("/" in text and "(" not in text)
    )


def load_program_input(data: object, metadata: ProgramMetadata | None = None) -> ProgramSource:
    """A program as a caller hands it over: a path (see :func:`looks_like_path`) or its source
    text (``str`` or ``bytes``); ``metadata``, when given, replaces what lies beside it.

    A path that does not exist is a :class:`ProgramError` saying so, never a syntax error.
    """
    if looks_like_path(data):
        path = Path(data).expanduser() if isinstance(data, os.PathLike) else Path(
            str(data).strip()).expanduser()
        if not path.exists():
            raise ProgramError("no such file or folder", str(path))
        source = load_program(path)
        if metadata is not None:
            source = program_from_files(source.entry, source.files, metadata)
        return source
    if isinstance(data, (str, bytes)):
        return program_from_source(data, metadata=metadata)
    raise ProgramError(
        f"a program is a path or its source text, not {type(data).__name__}", "data"
    )


def _load_single_file(
    path: Path, policy: ProgramPolicy, metadata_policy: MetadataPolicy | None
) -> ProgramSource:
    filename = str(path)
    if path.suffix != ".py":
        raise ProgramError("a program is a NAME.py file or a folder", filename)
    entry = path.stem
    _check_module_name(entry, filename, policy)
    data = _read_file(path, policy.max_source_bytes, filename, follow_symlinks=True)
    check_program_source(data, filename, policy=policy)  # refuses it if it is too big
    metadata_path = path.with_suffix(".json")
    metadata = None
    if metadata_path.is_file():
        metadata = load_metadata(metadata_path, policy=metadata_policy)
    return _source(entry, {path.name: data}, metadata)


class _Folder:
    """One folder program being loaded: a bounded walk, then the entry and its metadata."""

    def __init__(
        self, root: Path, policy: ProgramPolicy, metadata_policy: MetadataPolicy | None
    ) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.policy = policy
        self.metadata_policy = metadata_policy
        self.files: dict[str, bytes] = {}
        self.packages: set[str] = set()  # top-level folders with an __init__.py
        self.total = 0
        self.folders = 0

    def load(self) -> ProgramSource:
        self._walk()
        entry, metadata_file = self._entry()
        metadata = None
        if metadata_file is not None:
            text = self.files.pop(metadata_file)
            metadata = self._metadata(text, metadata_file)
        for relative, data in self.files.items():
            if not relative.endswith(".py"):
                continue
            where = self._where(relative)
            if relative == f"{entry}.py":
                check_program_source(data, where, policy=self.policy)
            else:
                _compile(data, where, self.policy)
        return _source(entry, self.files, metadata)

    # the walk

    def _walk(self) -> None:
        stack: list[tuple[Path, str, int]] = [(self.root, "", 0)]
        while stack:
            folder, prefix, depth = stack.pop()
            try:
                entries = self._list(folder, prefix)
            except OSError as exc:
                raise ProgramError(
                    f"cannot list the folder: {exc.strerror or exc}", self._where(prefix or ".")
                ) from None
            for entry in entries:
                if entry.name in self.policy.ignored_names:
                    continue
                relative = prefix + _safe_name(entry.name, self._where(prefix + "?"))
                if entry.is_symlink():
                    self._add_file(relative, self._symlink_target(entry, relative))
                elif entry.is_dir(follow_symlinks=False):
                    if depth + 1 > self.policy.max_depth:
                        raise ProgramError(
                            f"folders nested deeper than {self.policy.max_depth} levels "
                            "(policy max_depth)",
                            self._where(relative),
                        )
                    self.folders += 1
                    if self.folders > self.policy.max_files:
                        raise ProgramError(
                            f"the program has more than {self.policy.max_files} folders "
                            "(policy max_files)",
                            self._where("."),
                        )
                    if not prefix and os.path.isfile(os.path.join(entry.path, "__init__.py")):
                        self.packages.add(entry.name)
                    stack.append((Path(entry.path), relative + "/", depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    self._add_file(relative, Path(entry.path))
                else:
                    raise ProgramError(
                        "not a regular file (a FIFO, socket or device); a program holds only "
                        "files and folders",
                        self._where(relative),
                    )

    def _list(self, folder: Path, prefix: str) -> list[os.DirEntry[str]]:
        """The folder's entries, sorted; a folder too big to be a program is not read on."""
        limit = self.policy.max_files + len(self.policy.ignored_names)
        entries = []
        with os.scandir(folder) as scan:
            for entry in scan:
                entries.append(entry)
                if len(entries) > limit:
                    raise ProgramError(
                        f"the folder has more than {self.policy.max_files} entries "
                        "(policy max_files)",
                        self._where(prefix or "."),
                    )
        return sorted(entries, key=lambda entry: entry.name)

    def _symlink_target(self, entry: os.DirEntry[str], relative: str) -> Path:
        where = self._where(relative)
        target = Path(os.path.realpath(entry.path))
        if not target.is_relative_to(self.real_root):
            raise ProgramError("symlink leads outside the program folder", where)
        if target.is_dir():
            raise ProgramError("symlinks to folders are not followed", where)
        if not target.is_file():
            raise ProgramError("symlink does not lead to a regular file", where)
        return target

    def _add_file(self, relative: str, path: Path) -> None:
        where = self._where(relative)
        if any(relative.endswith(suffix) for suffix in self.policy.refused_suffixes):
            raise ProgramError(
                "compiled or native code cannot be reviewed, so it is not accepted in a program",
                where,
            )
        if len(self.files) + 1 > self.policy.max_files:
            raise ProgramError(
                f"the program has more than {self.policy.max_files} files (policy max_files)",
                self._where("."),
            )
        remaining = self.policy.max_total_bytes - self.total
        per_file = self.policy.max_source_bytes if relative.endswith(".py") else remaining
        limit = min(remaining, per_file)
        data = _read_file(path, limit, where, follow_symlinks=False)
        if len(data) > limit:
            if per_file < remaining:
                raise ProgramError(f"larger than {per_file} bytes (policy max_source_bytes)", where)
            raise ProgramError(
                f"the program is larger than {self.policy.max_total_bytes} bytes "
                "(policy max_total_bytes)",
                where,
            )
        self.total += len(data)
        self.files[relative] = data

    # the entry

    def _entry(self) -> tuple[str, str | None]:
        top = [name for name in self.files if "/" not in name]
        modules = sorted(name[:-3] for name in top if name.endswith(".py"))
        jsons = {name[:-5] for name in top if name.endswith(".json")}
        folder_name = Path(os.path.abspath(self.root)).name or self.real_root.name
        if folder_name in modules:
            entry = folder_name
        elif len([m for m in modules if m in jsons]) == 1:
            entry = next(m for m in modules if m in jsons)
        elif len(modules) == 1:
            entry = modules[0]
        else:
            found = ", ".join(f"{m}.py" for m in modules) or "no .py file"
            raise ProgramError(
                f"cannot tell the entry module: expected {folder_name}.py, or one NAME.py with "
                f"a NAME.json, or a single .py file at the top level (found: {found})",
                str(self.root),
            )
        for module in [*modules, *sorted(self.packages)]:
            _check_module_name(module, self._where(module), self.policy)
        return entry, (f"{entry}.json" if entry in jsons else None)

    def _metadata(self, text: bytes, relative: str) -> ProgramMetadata:
        try:
            return load_metadata(text, policy=self.metadata_policy)
        except MetadataError as exc:
            raise MetadataError(f"{self._where(relative)}: {exc}", exc.problems) from None

    def _where(self, relative: str) -> str:
        return str(self.root / relative)


def _read_file(path: Path, limit: int, where: str, *, follow_symlinks: bool) -> bytes:
    """Up to ``limit + 1`` bytes of a regular file (so the caller can tell it is too big)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in cannot block us
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise ProgramError(f"cannot read the file: {exc.strerror or exc}", where) from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ProgramError("not a regular file", where)
        return handle.read(limit + 1)


def _safe_name(name: str, where: str) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ProgramError("a file name is not valid UTF-8", where) from None
    if any(ord(char) < 32 or ord(char) == 127 for char in name) or "\\" in name:
        raise ProgramError(f"file name {name!r} has control characters or a backslash", where)
    return name


def _check_module_name(module: str, where: str, policy: ProgramPolicy) -> None:
    if not module.isidentifier() or keyword.iskeyword(module):
        raise ProgramError(
            f"{module!r} is not a Python module name; name the file with letters, digits and "
            "underscores (e.g. hello_world.py)",
            where,
        )
    if policy.is_reserved(module):
        raise ProgramError(
            f"a module named {module!r} would shadow the {module!r} the sandbox imports; rename it",
            where,
        )


def _module_name_for(name: str, policy: ProgramPolicy) -> str:
    module = re.sub(r"\W+", "_", name).strip("_") or "program"
    if module[0].isdigit() or keyword.iskeyword(module) or policy.is_reserved(module):
        module = f"program_{module}"
    return module


def _source(entry: str, files: dict[str, bytes], metadata: ProgramMetadata | None) -> ProgramSource:
    digest = hashlib.sha256()
    for relative in sorted(files):
        encoded = relative.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(len(files[relative]).to_bytes(8, "big") + files[relative])
    name = metadata.name if metadata is not None else ProgramMetadata.for_script(f"{entry}.py").name
    return ProgramSource(
        name=name,
        entry=entry,
        files=MappingProxyType(dict(sorted(files.items()))),
        metadata=metadata,
        source_hash=digest.hexdigest(),
    )
