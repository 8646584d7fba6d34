"""The README's code blocks marked for testing run as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme_blocks import readme_block

REPO = Path(__file__).resolve().parent.parent


def _run(code: str, home: Path) -> str:
    env = {**os.environ, "ENGINE_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_local_recipe(tmp_path):
    lines = _run(readme_block("local-recipe"), tmp_path).splitlines()
    assert len(lines) == 3
    assert [json.loads(line)["iteration"] for line in lines] == [0, 1, 2]


@pytest.mark.docker
def test_embedding_in_ten_lines(tmp_path):
    lines = _run(readme_block("embedded"), tmp_path).splitlines()
    interim = [line for line in lines if line.startswith("interim: ")]
    assert len(interim) == 2
    assert lines[-1].startswith("result: {") and "most_frequent" in lines[-1]

