"""Two RuntimeService processes on one PostgreSQL database: submit on one, watch on the other.

The submitting process runs the job with its local executor; this test's process streams its
interim results and cancels it. The executor notices the cancel request through its poll of
the shared store, removes the sandbox, and both sides see the same final state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import docker as docker_sdk
import pytest

from engine import RuntimeJobCancelled, RuntimeService
from engine.sandbox.container import LABEL_JOB

pytestmark = [pytest.mark.docker, pytest.mark.postgres]

TICKER = textwrap.dedent(
    """
    import time

    def main(backend, user_messenger, **kwargs):
        for tick in range(1000):
            user_messenger.publish({"tick": tick})
            time.sleep(0.2)
        return "never"
    """
)
TICKER_METADATA = {"name": "ticker", "description": "Ticks.", "max_execution_time": 120}

# The other process: upload and run, print the job id, then print the job's final state.
SUBMITTER = textwrap.dedent(
    """
    import json, sys
    from engine import RuntimeService
    url, home, source, metadata = sys.argv[1:5]
    with RuntimeService(home=home, database_url=url, user="alice", executor="local") as service:
        program_id = service.upload_program(source, json.loads(metadata))
        job = service.run(program_id)
        print(job.job_id(), flush=True)
        status = job.wait_for_final_state(timeout=120)
        print(json.dumps({"status": str(status), "reason": job.reason,
                          "messages": len(job.interim_results()),
                          "node": job.metrics().get("node")}), flush=True)
    """
)


def _containers_of(job_id: str) -> list:
    client = docker_sdk.from_env()
    return client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job_id}"})


def test_submit_on_one_process_stream_and_cancel_on_another(
    postgres_url: str, tmp_path: Path, runtime_image: str
) -> None:
    source = tmp_path / "ticker.py"
    source.write_text(TICKER)
    submitter = subprocess.Popen(
        [sys.executable, "-c", SUBMITTER, postgres_url, str(tmp_path / "a"), str(source),
         json.dumps(TICKER_METADATA)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        job_id = submitter.stdout.readline().strip()
        assert job_id, "the submitting process died before it queued its job"
        with RuntimeService(home=tmp_path / "b", database_url=postgres_url, user="alice",
                            executor=None) as watcher:
            job = watcher.job(job_id)
            received: list[dict] = []
            three = threading.Event()

            def on_message(streamed_id: str, message: dict) -> None:
                assert streamed_id == job_id
                received.append(message)
                if len(received) >= 3:
                    three.set()

            job.stream_results(on_message)
            assert three.wait(timeout=90), f"only {len(received)} messages streamed"
            assert job.status() == "RUNNING" and _containers_of(job_id)
            job.cancel()
            assert job.wait_for_final_state(timeout=60) == "CANCELLED"
            assert job.reason == "user"
            with pytest.raises(RuntimeJobCancelled):
                job.result()
            job.cancel_result_streaming()
            assert received[:3] == [{"tick": 0}, {"tick": 1}, {"tick": 2}]
            stored = job.interim_results()
            assert stored[: len(received)] == received

        remote_view = json.loads(submitter.stdout.readline())
        assert submitter.wait(timeout=60) == 0
    finally:
        if submitter.poll() is None:
            submitter.kill()
            submitter.wait()
    assert remote_view["status"] == "CANCELLED" and remote_view["reason"] == "user"
    assert remote_view["messages"] == len(stored)
    assert remote_view["node"]
    deadline = time.monotonic() + 10
    while _containers_of(job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _containers_of(job_id) == []
