"""Where a SQLite store lies and which schema revision it must have, known without SQLAlchemy.

:mod:`engine.store.database` opens stores through SQLAlchemy; :mod:`engine.store.sqlite_reads`
reads them with the standard library alone. Both take from here the file a store has under
its home, the newest migration's revision, and which URLs name a plain SQLite file.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The newest migration's revision id (``migrations/versions/``); a test checks that it is
#: Alembic's head, so adding a migration without moving it fails the tests.
HEAD_REVISION = "0004"
DATABASE_FILE = "engine.db"

# ``sqlite:///PATH`` with the default driver, and nothing SQLAlchemy would decode or pass on
# (percent escapes, query options, ``file:`` URIs) in the path.
_PLAIN_SQLITE_URL = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>[^?#%]+)")


def plain_sqlite_file(url: str) -> Path | None:
    """The file a plain SQLite URL names; ``None`` for any other URL (another database, an
    in-memory one, a URL with options), which only SQLAlchemy reads right."""
    match = _PLAIN_SQLITE_URL.fullmatch(url)
    if match is None:
        return None
    path = match["path"]
    if path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)
