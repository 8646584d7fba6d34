"""Dashboard benchmark: the jobs page with 10,000 jobs in the store, and publish() to page.

    .venv/bin/python bench/dashboard.py [--jobs 10000] [--runs 30] [--messages 40] [--quick]

Fills a fresh store with ``--jobs`` finished jobs of one user, starts ``program-engine serve``
on 127.0.0.1 on it (with a copy of ``policies/`` whose per-user rate limit is lifted: the
figures measure the pages, not the limiter), signs in through the form as a browser does,
and prints the median, min and max of:

- ``GET /ui/jobs`` (the first page, 50 rows, newest first), filtered by status, and a page
  deep in the list: the server's time to a whole response, on one keep-alive connection.
  Target: under 300 ms for the first page;
- ``GET /ui`` (the overview, which reads every job that ended in the last hour: here all of
  them), for orientation;
- the delay from ``publish()`` in a sandboxed program to the value's row appearing on the
  job page in headless chromium (the page's own script, fed by the event stream). The
  program stamps each message with ``time.time()``; a MutationObserver in the page stamps
  the row's arrival with ``Date.now()`` (same host clock). One sample per message, counting
  only messages published after the page was listening.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from daemon import Daemon, unthrottled_policies
from server import TICKER, TICKER_METADATA
from table import Figure, Target, add_quick_flag, print_figures

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
USER = "bench"


def _fill(home: Path, jobs: int) -> str:
    """A user with a token and ``jobs`` finished jobs in the store under ``home``."""
    from engine.accounts import new_token, token_hash
    from engine.records import JobStatus
    from engine.store import open_database

    token = new_token()
    with open_database(home=home) as database, database.write() as tx:
        tx.users.create(USER)
        tx.users.add_token(USER, token_hash(token))
        for n in range(jobs):
            record = tx.jobs.create(program_id="filler-abc123", program_version=1, owner=USER,
                                    backend="aer_simulator", inputs="{}")
            status = (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)[n % 3]
            tx.jobs.finish(record.id, status, result="1" if status is JobStatus.DONE else None,
                           reason=None if status is JobStatus.DONE else "user",
                           metrics={"wall_seconds": 0.5 + n % 7, "start_seconds": 0.4})
    return token


def sign_in(client: httpx.Client, token: str) -> None:
    """Sign in through the form, as a browser does (the client keeps the cookies)."""
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    answer = client.post("/ui/login", data={"token": token, "csrf": csrf.group(1),
                                            "next": "/ui/jobs"})
    assert answer.status_code == 303, answer.text


def bench_pages(url: str, token: str, jobs: int, runs: int) -> list[Figure]:
    figures = []
    with httpx.Client(base_url=url, timeout=60) as client:
        sign_in(client, token)
        deep = max(1, jobs // 50 - 1)
        for name, path, target in (
            (f"GET /ui/jobs, first page, {jobs:,} jobs in the store", "/ui/jobs",
             Target.below(300)),
            ("GET /ui/jobs?status=DONE, first page", "/ui/jobs?status=DONE", None),
            (f"GET /ui/jobs, page {deep}", f"/ui/jobs?page={deep}", None),
            (f"GET /ui (overview; {jobs:,} jobs ended in the hour)", "/ui", None),
        ):
            assert client.get(path).status_code == 200  # warm up
            found = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(path)
                found.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text[:500]
            figures.append(Figure(name, found, "ms", target, note=f"{len(response.content):,} B"))
    return figures


# Rows are reported to the benchmark as they appear (the page reloads when the job ends).
_OBSERVE = """() => {
  new MutationObserver(records => {
    const now = Date.now();
    for (const record of records) {
      for (const node of record.addedNodes) {
        window.reportArrival(now, node.textContent);
      }
    }
  }).observe(document.getElementById('interim'), {childList: true});
}"""


def bench_publish_to_page(url: str, token: str, messages: int) -> Figure:
    from playwright.sync_api import sync_playwright

    from engine.client import RemoteRuntimeService

    with RemoteRuntimeService(url, token) as service:
        program_id = service.upload_program(TICKER, TICKER_METADATA)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"])
            page = browser.new_page()
            arrivals: list[tuple[float, str]] = []
            page.expose_function("reportArrival", lambda at, text: arrivals.append((at, text)))
            page.goto(f"{url}/ui/login")
            page.fill("#token", token)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{url}/ui")
            job = service.run(program_id, {"count": messages, "interval": 0.1})
            page.goto(f"{url}/ui/jobs/{job.job_id()}", wait_until="domcontentloaded")
            page.evaluate(_OBSERVE)
            listening = time.time()
            job.result(timeout=300)
            page.wait_for_function("() => document.getElementById('job')"
                                   ".dataset.ended === 'true'", timeout=60_000)
            browser.close()
    delays = []
    for arrived_ms, text in arrivals:
        match = re.search(r"(\{.*\})", text)
        if match is None:
            continue
        sent = json.loads(match.group(1)).get("sent")
        if isinstance(sent, (int, float)) and sent > listening:
            delays.append(arrived_ms - sent * 1000)
    if not delays:
        raise RuntimeError(f"no message arrived while the page listened ({len(arrivals)} rows)")
    delays.sort()
    p95 = delays[max(0, int(len(delays) * 0.95) - 1)]
    return Figure("publish() to the value's row on the job page (chromium)", delays, "ms",
                  note=f"one sample per message; p95 {p95:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--messages", type=int, default=40)
    add_quick_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.runs, args.messages = 300, 3, 8
    root = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    daemon = None
    try:
        home = root / "home"
        started = time.perf_counter()
        token = _fill(home, args.jobs)
        filled = time.perf_counter() - started
        daemon = Daemon(home, unthrottled_policies(root / "policies"))
        figures = bench_pages(daemon.url, token, args.jobs, args.runs)
        figures.append(bench_publish_to_page(daemon.url, token, args.messages))
        print_figures(figures, title=f"dashboard ({args.jobs:,} jobs stored in {filled:.1f} s)")
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
