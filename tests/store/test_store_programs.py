"""Programs, versions and files in the store."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from sqlalchemy import text

from engine.errors import MetadataError, ProgramError
from engine.store import Database, new_program_id

FILES = {
    "pkg/main_mod.py": b"from . import helper\n",
    "pkg/__init__.py": b"",
    "pkg/helper.py": b"X = 1\n",
    "data/table.bin": bytes(range(256)),
}


def test_new_program_id_is_name_dash_suffix() -> None:
    first, second = new_program_id("Hello World!"), new_program_id("Hello World!")
    assert re.fullmatch(r"hello-world-[a-z0-9]{8}", first)
    assert first != second
    assert re.fullmatch(r"program-[a-z0-9]{8}", new_program_id("***"))
    assert len(new_program_id("x" * 500)) <= 60 + 9


def test_create_stores_version_one_with_its_files(db: Database, add_program) -> None:
    with db.write() as tx:
        created = add_program(tx, name="sampler", owner="bob")

    assert created.id.startswith("sampler-")
    assert (created.name, created.owner, created.is_public) == ("sampler", "bob", False)
    assert created.current_version == created.version.version == 1
    assert created.version.metadata["name"] == "sampler"
    assert created.version.entry == "hello_world"
    assert created.version.files is None
    assert created.created_at == created.updated_at
    assert created.created_at.tzinfo is UTC

    with db.read() as tx:
        loaded = tx.programs.get(created.id, with_files=True)
    assert loaded is not None
    assert loaded.version.files == {
        "hello_world.py": b"def main(backend, user_messenger, **kwargs):\n    return kwargs\n"
    }


def test_a_folder_program_keeps_every_file_byte_for_byte(db: Database) -> None:
    with db.write() as tx:
        created = tx.programs.create(
            name="folder",
            owner="alice",
            metadata={"name": "folder"},
            source_hash="h1",
            entry="pkg",
            files=FILES,
        )
    with db.read() as tx:
        version = tx.programs.get_version(created.id, 1)
    assert version is not None
    assert version.files == FILES
    assert list(version.files) == sorted(FILES)


def test_add_version_keeps_old_versions_and_moves_current(db: Database, add_program) -> None:
    with db.write() as tx:
        created = add_program(tx, name="v-test")
    with db.write() as tx:
        updated = tx.programs.add_version(
            created.id,
            metadata={"name": "renamed", "description": "new"},
            source_hash="h2",
            entry="mod",
            files={"mod.py": b"v2"},
            name="renamed",
        )
    assert updated is not None
    assert updated.id == created.id
    assert (updated.current_version, updated.name) == (2, "renamed")
    assert updated.version.metadata == {"name": "renamed", "description": "new"}
    assert updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at

    with db.read() as tx:
        old = tx.programs.get_version(created.id, 1)
        new = tx.programs.get_version(created.id, 2)
        history = tx.programs.versions(created.id)
        current = tx.programs.get(created.id, with_files=True)
    assert old is not None and new is not None and current is not None
    assert old.files == {"hello_world.py": created_source(db, created.id)}
    assert old.metadata["name"] == "v-test"
    assert new.files == {"mod.py": b"v2"}
    assert [v.version for v in history] == [1, 2]
    assert all(v.files is None for v in history)
    assert current.version.files == {"mod.py": b"v2"}


def created_source(db: Database, program_id: str) -> bytes:
    with db.read() as tx:
        version = tx.programs.get_version(program_id, 1)
    assert version is not None and version.files is not None
    return version.files["hello_world.py"]


def test_add_version_without_name_keeps_the_name(db: Database, add_program) -> None:
    with db.write() as tx:
        created = add_program(tx, name="keep")
        updated = tx.programs.add_version(
            created.id, metadata={"name": "keep"}, source_hash="h", entry="m", files={"m.py": b""}
        )
    assert updated is not None and updated.name == "keep"


def test_add_version_of_a_missing_program_is_none_and_writes_nothing(db: Database) -> None:
    with db.write() as tx:
        assert (
            tx.programs.add_version(
                "nope", metadata={}, source_hash="h", entry="m", files={"m.py": b""}
            )
            is None
        )
    with db.read() as tx:
        assert tx.session.execute(text("SELECT count(*) FROM program_versions")).scalar() == 0


def test_get_of_missing_things_is_none(db: Database, add_program) -> None:
    with db.write() as tx:
        created = add_program(tx)
    with db.read() as tx:
        assert tx.programs.get("missing") is None
        assert tx.programs.get_version(created.id, 2) is None
        assert tx.programs.get_version("missing", 1) is None
        assert tx.programs.versions("missing") == []


def test_list_visible_shows_own_and_public_newest_first(db: Database, add_program) -> None:
    with db.write() as tx:
        a1 = add_program(tx, "a1", "alice")
        b1 = add_program(tx, "b1", "bob")
        b2 = add_program(tx, "b2", "bob", is_public=True)
        a2 = add_program(tx, "a2", "alice")

    with db.read() as tx:
        alice = [p.id for p in tx.programs.list_visible("alice")]
        bob = [p.id for p in tx.programs.list_visible("bob")]
        carol = [p.id for p in tx.programs.list_visible("carol")]
        admin = [p.id for p in tx.programs.list_visible("carol", is_admin=True)]
        counts = (
            tx.programs.count_visible("alice"),
            tx.programs.count_visible("carol"),
            tx.programs.count_visible("carol", is_admin=True),
        )
    assert alice == [a2.id, b2.id, a1.id]
    assert bob == [b2.id, b1.id]
    assert carol == [b2.id]
    assert admin == [a2.id, b2.id, b1.id, a1.id]
    assert counts == (3, 1, 4)


def test_list_visible_pages_with_limit_and_skip(db: Database, add_program) -> None:
    with db.write() as tx:
        ids = [add_program(tx, f"p{i}").id for i in range(7)]
    newest_first = ids[::-1]
    with db.read() as tx:
        pages = [
            [p.id for p in tx.programs.list_visible("alice", limit=3, skip=s)] for s in (0, 3, 6)
        ]
        everything = [p.id for p in tx.programs.list_visible("alice", limit=None)]
        none = tx.programs.list_visible("alice", limit=0)
        with pytest.raises(ValueError, match="skip"):
            tx.programs.list_visible("alice", skip=-1)
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    assert everything == newest_first
    assert none == []


def test_listed_programs_carry_their_current_metadata(db: Database, add_program) -> None:
    with db.write() as tx:
        created = add_program(tx, "meta")
        tx.programs.add_version(
            created.id,
            metadata={"name": "meta", "v": 2},
            source_hash="h",
            entry="m",
            files={"m.py": b""},
        )
    with db.read() as tx:
        (listed,) = tx.programs.list_visible("alice")
    assert listed.current_version == 2
    assert listed.version.metadata == {"name": "meta", "v": 2}
    assert listed.version.files is None


def test_set_visibility(db: Database, add_program) -> None:
    with db.write() as tx:
        created = add_program(tx, owner="alice")
    with db.write() as tx:
        assert tx.programs.set_visibility(created.id, True) is True
        assert tx.programs.set_visibility("missing", True) is False
    with db.read() as tx:
        public = tx.programs.get(created.id)
        assert [p.id for p in tx.programs.list_visible("bob")] == [created.id]
    assert public is not None and public.is_public
    assert public.updated_at == created.updated_at
    with db.write() as tx:
        tx.programs.set_visibility(created.id, False)
    with db.read() as tx:
        assert tx.programs.list_visible("bob") == []


def test_delete_removes_versions_and_files_but_not_jobs(db: Database, add_program, add_job) -> None:
    with db.write() as tx:
        created = add_program(tx)
        tx.programs.add_version(
            created.id, metadata={}, source_hash="h", entry="m", files={"m.py": b""}
        )
        job = add_job(tx, program_id=created.id)
        other = add_program(tx, "other")
    with db.write() as tx:
        assert tx.programs.delete(created.id) is True
        assert tx.programs.delete(created.id) is False
    with db.read() as tx:
        assert tx.programs.get(created.id) is None
        assert tx.programs.versions(created.id) == []
        remaining_files = (
            tx.session.execute(text("SELECT DISTINCT program_id FROM program_files"))
            .scalars()
            .all()
        )
        kept = tx.jobs.get(job.id)
    assert remaining_files == [other.id]
    assert kept is not None and kept.program_id == created.id


@pytest.mark.parametrize(
    ("files", "entry", "message"),
    [
        ({}, "m", "at least one"),
        ({"/abs.py": b""}, "abs", "relative"),
        ({"../up.py": b""}, "up", "relative"),
        ({"a/./b.py": b""}, "a.b", "relative"),
        ({"a\\b.py": b""}, "b", "relative"),
        ({"m.py": "text"}, "m", "bytes"),
        ({"m.py": b""}, "m-x", "module name"),
        ({"m.py": b""}, "other", "other.py"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    db: Database, files, entry: str, message: str
) -> None:
    with pytest.raises(ProgramError, match=message), db.write() as tx:
        tx.programs.create(
            name="bad", owner="alice", metadata={}, source_hash="h", entry=entry, files=files
        )
    with db.read() as tx:
        assert tx.programs.count_visible("alice") == 0


def test_metadata_must_be_json(db: Database) -> None:
    with pytest.raises(MetadataError, match="metadata is not JSON-serializable"), db.write() as tx:
        tx.programs.create(
            name="bad",
            owner="alice",
            metadata={"x": float("nan")},
            source_hash="h",
            entry="m",
            files={"m.py": b""},
        )


@pytest.mark.parametrize(("name", "owner"), [("", "alice"), ("n" * 201, "alice"), ("ok", "")])
def test_names_are_bounded(db: Database, name: str, owner: str) -> None:
    with pytest.raises(ValueError, match="1 to 200 characters"), db.write() as tx:
        tx.programs.create(
            name=name, owner=owner, metadata={}, source_hash="h", entry="m", files={"m.py": b""}
        )
