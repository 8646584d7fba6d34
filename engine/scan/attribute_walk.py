"""Walk installed packages and list which module attributes are modules or callables.

Run as a script, in a fresh interpreter (``python -I attribute_walk.py``), never imported by
the engine: what a module exposes depends on what else has been imported and patched in
the process, and the map must describe a program's view, not the engine's. It uses the
standard library only, reads its request as JSON on stdin and writes JSON on stdout:

    in:  {"packages": ["qiskit", "numpy", ...], "skip": ["numpy.f2py", ...]}
    out: {"loaded": [...], "failed": [...], "attributes": {"logging.os": "os", ...},
          "module_valued": ["logging.os", ...], "versions": {"numpy": "2.4.6", ...}}

``attributes`` maps ``module.attr`` to the canonical name of its value when that differs:
``__name__`` for a module (those attributes are also listed in ``module_valued``),
``__module__.__qualname__`` for a function or class whose home module is loaded (names of
builtins only when the object *is* that builtin). Submodules under a ``skip`` entry are not
imported.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import importlib.metadata
import io
import json
import pkgutil
import sys
import types
import warnings

# Parts of a module path that hold test suites, which import test tooling on import.
_TEST_PARTS = frozenset({"test", "tests", "testing", "conftest"})


def _skipped(name: str, skip: list[str]) -> bool:
    return any(name == entry or name.startswith(entry + ".") for entry in skip) or bool(
        _TEST_PARTS.intersection(name.split("."))
    )


def _import_quietly(name: str) -> types.ModuleType:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return importlib.import_module(name)


def walk(packages: list[str], skip: list[str]) -> tuple[list[str], list[str]]:
    """Import every package and its submodules (outside ``skip``): loaded and failed names."""
    loaded: list[str] = []
    failed: list[str] = []
    for top in packages:
        try:
            module = _import_quietly(top)
        except BaseException:  # a package that fails to import (or exits) is listed
            failed.append(top)
            continue
        loaded.append(top)
        path = getattr(module, "__path__", None)
        if path is None:
            continue
        for info in pkgutil.walk_packages(path, top + ".", onerror=failed.append):
            if _skipped(info.name, skip):
                continue
            try:
                _import_quietly(info.name)
            except BaseException:
                failed.append(info.name)
            else:
                loaded.append(info.name)
    return sorted(set(loaded)), sorted(set(failed))


def canonical(value: object) -> str | None:
    """The dotted name ``value`` is defined under, if it is a module or a callable with one."""
    if isinstance(value, types.ModuleType):
        return value.__name__ if isinstance(value.__name__, str) else None
    if not callable(value):
        return None
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if module == "builtins":
        # Extension types without a module of their own also claim "builtins".
        return f"builtins.{qualname}" if getattr(builtins, qualname, None) is value else None
    if module not in sys.modules:
        return None  # a made-up __module__ (extension submodules name themselves freely)
    dotted = f"{module}.{qualname}"
    # Functions made inside functions (``f.<locals>.g``) have no name a program can write.
    return dotted if all(part.isidentifier() for part in dotted.split(".")) else None


def attributes(modules: list[str]) -> tuple[dict[str, str], list[str]]:
    """``module.attr`` -> canonical name, for every attribute whose canonical name differs;
    and which of those attributes are modules."""
    found: dict[str, str] = {}
    module_valued: list[str] = []
    for name in modules:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, value in list(vars(module).items()):
            try:
                target = canonical(value)
            except Exception:  # a broken __getattr__ on a value
                continue
            path = f"{name}.{attr}"
            if target is not None and target != path:
                found[path] = target
                if isinstance(value, types.ModuleType):
                    module_valued.append(path)
    return dict(sorted(found.items())), sorted(module_valued)


def versions(packages: list[str]) -> dict[str, str]:
    """Installed distribution versions of the packages that have one (not the stdlib)."""
    found = {}
    for top in packages:
        if top in sys.stdlib_module_names:
            continue
        try:
            found[top] = importlib.metadata.version(top.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def main() -> int:
    request = json.load(sys.stdin)
    warnings.simplefilter("ignore")
    loaded, failed = walk(list(request["packages"]), list(request["skip"]))
    found, module_valued = attributes(loaded)
    result = {
        "loaded": loaded,
        "failed": failed,
        "attributes": found,
        "module_valued": module_valued,
        "versions": versions(list(request["packages"])),
    }
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
