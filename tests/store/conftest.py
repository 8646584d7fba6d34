"""Fixtures for the store tests: a fresh SQLite store per test, and small factories."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.records import JobRecord, ProgramRecord
from engine.store import Database, Transaction, open_database

SOURCE = b"def main(backend, user_messenger, **kwargs):\n    return kwargs\n"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(home=tmp_path)
    try:
        yield database
    finally:
        database.close()


def program_metadata(name: str = "hello-world", **extra: object) -> dict[str, object]:
    return {"name": name, "description": f"{name} program", "max_execution_time": 300, **extra}


def _add_program(
    tx: Transaction,
    name: str = "hello-world",
    owner: str = "alice",
    *,
    is_public: bool = False,
    files: dict[str, bytes] | None = None,
) -> ProgramRecord:
    files = files or {"hello_world.py": SOURCE}
    return tx.programs.create(
        name=name,
        owner=owner,
        metadata=program_metadata(name),
        source_hash=hashlib.sha256(b"".join(files.values())).hexdigest(),
        entry="hello_world",
        files=files,
        is_public=is_public,
    )


def _add_job(
    tx: Transaction, owner: str = "alice", program_id: str = "hello-world-abc", **kw: object
) -> JobRecord:
    return tx.jobs.create(
        program_id=program_id,
        program_version=1,
        owner=owner,
        backend="aer_simulator",
        inputs='{"iterations": 2}',
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def add_program() -> Callable[..., ProgramRecord]:
    """``add_program(tx, name, owner, is_public=..., files=...)``: store a one-file program."""
    return _add_program


@pytest.fixture
def add_job() -> Callable[..., JobRecord]:
    """``add_job(tx, owner, program_id, **kw)``: queue a job."""
    return _add_job
