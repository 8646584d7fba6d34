"""A short soak (``bench/soak.py`` with fewer jobs): once warm, the daemon's memory does not
trend upward, and its descriptors, threads and containers come back to their baseline.

The full soak (1,000 jobs) is the benchmark; this is the same code with ``JOBS`` jobs.
"""

from __future__ import annotations

import csv

import pytest

from bench.soak import COLUMNS, soak

pytestmark = [pytest.mark.docker, pytest.mark.slow]

JOBS = 30  # 100 take 3 to 4 minutes on this machine's 2 busy cores (0.5 jobs/s); 30 fit a minute
CLIENTS = 10


def test_a_short_soak_shows_no_upward_trend(tmp_path, runtime_image) -> None:
    result = soak(JOBS, CLIENTS, tmp_path)
    missed = {name: text for name, (met, text) in result.checks().items() if not met}
    assert not missed, missed
    with (tmp_path / "soak.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == COLUMNS and len(rows) > 10
    assert (tmp_path / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
