"""The layout's promises, checked on the source: which module may import which."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"
DOORS = ("server", "cli", "client", "client.py")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _door_modules() -> list[Path]:
    paths: list[Path] = []
    for door in DOORS:
        target = ENGINE / door
        paths.extend(sorted(target.rglob("*.py")) if target.is_dir() else
                     [target] if target.is_file() else [])
    return paths


@pytest.mark.parametrize("path", _door_modules(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_no_door_imports_the_store(path: Path) -> None:
    store = sorted(name for name in _imports(path)
                   if name == "engine.store" or name.startswith("engine.store."))
    assert not store, f"{path.relative_to(ENGINE)} imports {store}: go through the service"


def test_the_program_package_imports_nothing_host_side() -> None:
    allowed = ("engine.program", "engine.serialization", "engine.protocol", "engine.errors")
    for path in sorted((ENGINE / "program").rglob("*.py")):
        host = sorted(name for name in _imports(path)
                      if name.startswith("engine.") and not name.startswith(allowed))
        assert not host, f"{path.relative_to(ENGINE)} imports {host}"


def test_no_two_engine_classes_share_a_name() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where = str(path.relative_to(ENGINE))
                if node.name in seen:
                    clashes.append(f"{node.name}: {seen[node.name]} and {where}")
                seen.setdefault(node.name, where)
    assert not clashes, clashes
