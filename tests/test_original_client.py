"""The original service's client-side examples run with only their import lines changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "original_client" / "original_script.py"


def test_the_original_guides_examples_run_unchanged_but_for_imports(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "ENGINE_HOME": str(tmp_path), "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "description": "A new description.",
        "hello": "Hello, World!",
        "done": True,
        "in_final_state": True,
        "cancel_after_end": "RuntimeInvalidStateError",
        "custom": ["this my foo", "that my bar"],
        "decoded": ["this my foo", "that my bar"],
        "after_delete": "RuntimeProgramNotFound",
    }
