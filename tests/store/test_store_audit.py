"""The audit log's hash chain: appends from several services at once, and tampering.

Tampering is done as an attacker with database access would: plain SQL on the table. The
check is the command an operator runs, ``program-engine audit verify``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.audit import CLI, GENESIS_HASH, verify_entries
from engine.store import Database, open_database

CLI_PATH = Path(sys.executable).with_name("program-engine")
REPO = Path(__file__).resolve().parent.parent.parent


def _append(db: Database, count: int) -> None:
    for n in range(count):
        with db.write() as tx:
            tx.audit.append(actor=f"user{n % 3}", action="job.run", obj=f"job-{n}",
                            details={"n": n}, origin=CLI)


def _verify(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("ENGINE_DATABASE_URL", None)
    return subprocess.run([str(CLI_PATH), "audit", "verify", "--home", str(home)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_entries_chain_from_the_genesis_hash(db: Database) -> None:
    _append(db, 4)
    with db.read() as tx:
        entries = tx.audit.list(limit=None)
        assert verify_entries(tx.audit.stored()) == (4, None)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    with db.read() as tx:
        assert [e.object for e in tx.audit.list(actor="user1")] == ["job-1"]


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        ("UPDATE audit_log SET details = '{\"n\":99}' WHERE seq = 3",
         "audit entry 3: was changed"),
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5", "audit entry 5: was changed"),
        ("DELETE FROM audit_log WHERE seq = 3", "audit entry 3: was removed"),
        ("DELETE FROM audit_log WHERE seq = 1", "audit entry 1: was removed"),
        ("INSERT INTO audit_log (seq, at, actor, action, object, details, origin, prev_hash, "
         "hash) SELECT 7, at, 'mallory', 'review.approve', 'x', '{}', 'cli', hash, "
         "'" + "ab" * 32 + "' FROM audit_log WHERE seq = 6",
         "audit entry 7: was changed or inserted"),
    ],
)
def test_audit_verify_names_the_first_entry_tampered_with(tmp_path: Path, tamper: str,
                                                        named: str) -> None:
    home = tmp_path / "home"
    with open_database(home=home) as db:
        _append(db, 6)
    intact = _verify(home)
    assert intact.returncode == 0, intact.stderr
    assert "audit log intact: 6 entries" in intact.stdout

    with open_database(home=home) as db, db.engine.begin() as connection:
        connection.exec_driver_sql(tamper)

    broken = _verify(home)
    assert broken.returncode == 1, broken.stdout
    assert named in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1


def test_an_entry_moved_into_a_gap_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_database(home=home) as db:
        _append(db, 5)
        with db.engine.begin() as connection:
            # Insert a forged entry 3 by moving the later ones up, copying the link.
            connection.execute(text("UPDATE audit_log SET seq = seq + 10 WHERE seq >= 3"))
            connection.execute(text("UPDATE audit_log SET seq = seq - 9 WHERE seq >= 13"))
            connection.execute(text(
                "INSERT INTO audit_log (seq, at, actor, action, object, details, origin, "
                "prev_hash, hash) SELECT 3, at, 'mallory', 'user.add', 'mallory', '{}', 'cli', "
                "hash, '" + "cd" * 32 + "' FROM audit_log WHERE seq = 2"))
    broken = _verify(home)
    assert broken.returncode == 1
    assert "audit entry 3: was changed or inserted" in broken.stderr


# Another service appending: after "go" on stdin, N audited changes (token rotations).
APPENDER = textwrap.dedent(
    """
    import json, sys
    from engine import RuntimeService
    url, home, name, count = sys.argv[1:5]
    with RuntimeService(home=home, database_url=url, user=name, executor=None) as service:
        accounts = service.accounts
        accounts.add(name)
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(int(count)):
            accounts.issue_token(name)
        print(json.dumps({"done": int(count)}), flush=True)
    """
)


def _appenders_at_once(url: str, tmp_path: Path, count: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen([sys.executable, "-c", APPENDER, url, str(tmp_path / name), name,
                          str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env=env)
        for name in ("svc-a", "svc-b")
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        out, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0
        assert json.loads(out.strip().splitlines()[-1]) == {"done": count}


def _one_chain(db: Database, count: int) -> None:
    with db.read() as tx:
        entries = tx.audit.list(limit=None)
        checked, broken = verify_entries(tx.audit.stored())
    # each service: user.add + user.token, then ``count`` token rotations
    assert len(entries) == checked == 2 * (count + 2)
    assert broken is None
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert len({e.prev_hash for e in entries}) == len(entries)  # no two share a parent
    actors = {e.object for e in entries}
    assert actors == {"svc-a", "svc-b"}


def test_two_services_on_one_sqlite_file_keep_one_chain(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'shared.db'}"
    _appenders_at_once(url, tmp_path, 40)
    with open_database(url) as db:
        _one_chain(db, 40)


@pytest.mark.postgres
def test_two_services_on_one_postgres_keep_one_chain(postgres_url: str, tmp_path: Path) -> None:
    _appenders_at_once(postgres_url, tmp_path, 60)
    with open_database(postgres_url) as db:
        _one_chain(db, 60)
