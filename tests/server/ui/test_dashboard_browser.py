"""The dashboard in a real browser: headless chromium against a real daemon on 127.0.0.1,
real sandboxes.

alice uploads and runs programs, bob is a reviewer, carol is a plain user, root an admin.
"""

from __future__ import annotations

import re
import textwrap
import time
from datetime import UTC, datetime

import httpx
import pytest

from engine.server.ui.headers import CONTENT_SECURITY_POLICY
from tests.server.conftest import REPO, TICKER, TICKER_METADATA
from tests.server.ui.conftest import screenshot, sign_in

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FINAL = ("DONE", "ERROR", "CANCELLED")
SCRIPT = "<script>window.__pwned = 1; alert('script')</script>"
IMG = "<img src=x onerror=\"window.__pwned = 1; alert('img')\">"
HOSTILE = textwrap.dedent(
    f"""
    def main(backend, user_messenger, **kwargs):
        print({SCRIPT!r})
        print({IMG!r})
        user_messenger.publish({{"note": {IMG!r}, "x": 1.5}})
        user_messenger.publish({SCRIPT!r})
        return {{"text": {SCRIPT!r}, {IMG!r}: {IMG!r}}}
    """
)
HOSTILE_METADATA = {"name": "hostile", "description": f"Shows {SCRIPT} and {IMG} as text.",
                    "max_execution_time": 60}
RANDOM = ("import random\n\ndef main(backend, user_messenger, **kwargs):\n"
          "    return random.random()\n")


def _status(page) -> str:
    return page.locator("#job-status").inner_text().strip()


def _wait_final(service, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = service.job_record(job_id)
        if record.is_final:
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end within {timeout} s")


# --- sign-in, session, CSRF, headers --------------------------------------------------------


def test_sign_in_session_and_sign_out(site, browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{site.url}/ui/jobs?status=DONE")
    assert page.url.startswith(f"{site.url}/ui/login?next=")  # no session: to sign-in
    headers = response.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"

    page.fill("#token", "not-a-token-" + "x" * 40)
    page.click("form button[type=submit]")
    assert "not valid" in page.locator("#login-error").inner_text()

    page.fill("#token", site.tokens["alice"])
    page.click("form button[type=submit]")
    page.wait_for_url(f"{site.url}/ui/jobs?status=DONE")  # back where it was going
    assert page.locator("#signed-in-as").inner_text() == "alice"
    (cookie,) = [c for c in context.cookies() if c["name"] == "pe_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert site.tokens["alice"] not in cookie["value"]

    # A form without the session's CSRF token is refused, and changes nothing.
    refused = page.request.post(f"{site.url}/ui/logout", form={"csrf": "forged"})
    assert refused.status == 403
    page.goto(f"{site.url}/ui/programs")
    assert page.locator("#signed-in-as").inner_text() == "alice"

    page.click("header form.who button")
    page.wait_for_url(re.compile(r".*/ui/login$"))
    page.goto(f"{site.url}/ui/programs")
    assert "/ui/login" in page.url
    context.close()


def test_revoking_the_token_ends_the_session(site, browser) -> None:
    from engine.accounts import Accounts
    from engine.store import open_database

    site.tokens["dave"] = site.daemon.user("dave")
    context, page, _watched = sign_in(browser, site, "dave")
    page.goto(f"{site.url}/ui/jobs")
    assert page.locator("#signed-in-as").inner_text() == "dave"
    with open_database(home=site.daemon.home) as database:
        assert Accounts(database).revoke("dave") == 1
    page.goto(f"{site.url}/ui/jobs")
    assert "/ui/login" in page.url
    context.close()


def test_every_asset_is_served_by_the_daemon(site, browser) -> None:
    context, page, watched = sign_in(browser, site, "carol")
    assets: set[str] = set()
    for path in ("/ui", "/ui/jobs", "/ui/programs", "/ui/reviews"):
        page.goto(site.url + path)
        assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
        assets |= set(page.evaluate(
            """() => [...document.querySelectorAll('script[src], link[href]')]
                     .map(e => e.getAttribute('src') || e.getAttribute('href'))"""))
    assert assets and all(asset.startswith("/ui/static/") for asset in assets), assets
    for asset in assets:
        answer = page.request.get(site.url + asset)
        assert answer.status == 200 and answer.headers["x-content-type-options"] == "nosniff"
    assert not watched.console_errors and not watched.page_errors
    context.close()


# --- the run form, live interim values and chart --------------------------------------------


@pytest.fixture(scope="module")
def vqe(site) -> str:
    with site.daemon.client(site.tokens["alice"]) as service:
        program_id = service.upload_program(REPO / "program_source" / "vqe" / "vqe.py")
        assert service.program(program_id).review_status == "approved"
        return program_id


def test_run_vqe_from_its_form_and_watch_it_live(site, browser, vqe) -> None:
    context, page, watched = sign_in(browser, site, "alice")
    page.goto(f"{site.url}/ui/programs/{vqe}")
    maxiter = page.locator('[name="in.maxiter"]')
    assert maxiter.get_attribute("min") == "1" and maxiter.get_attribute("max") == "1000"

    # Checked in the browser: the form is not sent.
    maxiter.fill("0")
    page.click("#run")
    assert page.url == f"{site.url}/ui/programs/{vqe}"
    assert not maxiter.evaluate("field => field.validity.valid")
    assert page.locator('.field-error[data-for="in.maxiter"]').inner_text().strip()

    # Checked again by the server, with the error beside the field.
    page.eval_on_selector("#run-form", "form => { form.noValidate = true; }")
    page.fill('[name="in.hamiltonian"]', "[[\"ZZ\", 1.0")
    page.click("#run")
    assert page.locator('.field-error[data-for="in.hamiltonian"]').inner_text().startswith(
        "not valid JSON")
    page.eval_on_selector("#run-form", "form => { form.noValidate = true; }")
    page.fill('[name="in.hamiltonian"]', "")
    page.locator('[name="in.maxiter"]').fill("0")
    page.click("#run")
    assert "minimum" in page.locator('.field-error[data-for="in.maxiter"]').inner_text()

    page.locator('[name="in.maxiter"]').fill("1000")
    page.locator('[name="in.shots"]').fill("20000")
    page.select_option('[name="in.optimizer"]', label="Powell")
    page.click("#run")
    page.wait_for_url(re.compile(r".*/ui/jobs/[^/]+$"))
    job_id = page.url.rsplit("/", 1)[1]

    # Interim values and the chart arrive while the page still shows the job unfinished.
    page.wait_for_function(
        """() => +document.getElementById('chart').dataset.points >= 3 &&
                 !['DONE', 'ERROR', 'CANCELLED'].includes(
                     document.getElementById('job-status').textContent.trim())""",
        timeout=90_000)
    seen_at = datetime.now(UTC)
    assert page.locator("#series").input_value() == "energy"
    assert page.locator("#interim tr").count() >= 3
    first = int(page.locator("#chart").get_attribute("data-points"))
    page.wait_for_function(  # the chart goes on growing
        f"() => +document.getElementById('chart').dataset.points >= {max(first + 1, 12)}",
        timeout=60_000)
    screenshot(page, "running-job")

    with site.daemon.client(site.tokens["alice"]) as service:
        service.cancel_job(job_id)
        record = _wait_final(service, job_id)
    assert record.ended_at > seen_at  # the values were live: the job had not ended
    page.wait_for_function("() => document.getElementById('job-status').textContent.trim()"
                           " === 'CANCELLED'", timeout=30_000)
    # The refused forms were answered 422 (the browser notes each); nothing else went wrong.
    unexpected = [text for text in watched.console_errors if "status of 422" not in text]
    assert not watched.page_errors and not unexpected, unexpected
    context.close()


# --- cancel from the job page ---------------------------------------------------------------


def test_cancel_a_running_job_from_its_page(site, browser) -> None:
    with site.daemon.client(site.tokens["alice"]) as service:
        ticker = service.upload_program(TICKER, TICKER_METADATA)
        job_id = service.run(ticker, {"count": 500, "interval": 0.1}).job_id()
    context, page, watched = sign_in(browser, site, "alice")
    page.goto(f"{site.url}/ui/jobs/{job_id}")
    page.wait_for_function("() => +document.getElementById('interim-count').textContent > 0",
                           timeout=60_000)
    running = context.new_page()  # the jobs list, filtered to RUNNING, refreshes by itself
    running.goto(f"{site.url}/ui/jobs?status=RUNNING")
    link = f'#job-rows a[href="/ui/jobs/{job_id}"]'
    assert running.locator(link).count() == 1
    page.click("#cancel")
    page.wait_for_function("() => document.getElementById('job-status').textContent.trim()"
                           " === 'CANCELLED'", timeout=60_000)
    assert page.locator("#job-reason").inner_text() == "(user)"
    assert page.locator("#cancel").count() == 0
    running.wait_for_function(f"() => !document.querySelector('{link}')", timeout=30_000)
    assert running.url.endswith("status=RUNNING")  # refreshed in place, not reloaded
    page.goto(f"{site.url}/ui/jobs?status=CANCELLED")
    assert page.locator(link).count() == 1
    assert not watched.page_errors and not watched.console_errors
    context.close()


# --- reviews and the audit log --------------------------------------------------------------


def test_approve_a_pending_version_then_find_it_in_the_audit_log(site, browser) -> None:
    with site.daemon.client(site.tokens["alice"]) as service:
        program_id = service.upload_program(RANDOM, {"name": "dice", "description": "Rolls.",
                                                     "max_execution_time": 60,
                                                     "is_public": True})
    context, page, _watched = sign_in(browser, site, "bob")
    page.goto(f"{site.url}/ui/reviews")
    page.click(f'#reviews a[href="/ui/reviews/{program_id}/1"]')
    assert page.locator("#review-status").inner_text() == "pending_review"
    hits = page.locator("pre.source .hit").all_inner_texts()
    assert any("random.random()" in hit for hit in hits), hits
    assert "+    return random.random()" in page.locator("pre.diff").first.inner_text()
    screenshot(page, "review")
    page.click("#reject")  # a rejection needs a comment: refused beside the form
    assert "needs a comment" in page.locator("#decision-error").inner_text()
    assert page.locator("#review-status").inner_text() == "pending_review"
    page.fill("#comment", "Seeded randomness is fine here <b>ok</b>")
    page.click("#approve")
    page.wait_for_url(f"{site.url}/ui/reviews/{program_id}/1")
    assert page.locator("#review-status").inner_text() == "approved"
    comment = page.locator("#review-comment").inner_text()
    assert comment == "Seeded randomness is fine here <b>ok</b>"
    context.close()

    context, page, _watched = sign_in(browser, site, "root")
    page.goto(f"{site.url}/ui/audit?action=review.approve")
    rows = page.locator("#audit tbody tr")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "bob" in row and program_id in row and "review.approve" in row
    assert "holds" in page.locator("#chain-state").inner_text()
    # Not for anyone but an admin.
    context.close()
    context, page, _watched = sign_in(browser, site, "bob")
    assert page.goto(f"{site.url}/ui/audit").status == 403
    context.close()


# --- hostile content stays text -------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(site) -> tuple[str, str]:
    with site.daemon.client(site.tokens["alice"]) as service:
        program_id = service.upload_program(HOSTILE, HOSTILE_METADATA)
        job = service.run(program_id)
        record = _wait_final(service, job.job_id())
        assert record.status.value == "DONE", record
        return program_id, job.job_id()


def test_hostile_names_descriptions_logs_and_results_stay_text(site, browser, hostile) -> None:
    program_id, job_id = hostile
    with httpx.Client(base_url=site.url) as http:  # a name cannot carry markup at all
        refused = http.post("/v1/programs", headers={
            "Authorization": f"Bearer {site.tokens['alice']}"},
            files={"source": ("x.py", b"def main(backend, user_messenger):\n    pass\n")},
            data={"metadata": '{"name": "<script>", "description": "x", '
                              '"max_execution_time": 10}'})
        assert refused.status_code == 422 and "name" in refused.text
    context, page, watched = sign_in(browser, site, "alice")
    for path in ("/ui/programs", "/ui/programs?q=hostile", f"/ui/programs/{program_id}",
                 "/ui/jobs", f"/ui/jobs/{job_id}"):
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__pwned") is None, path
    page.goto(f"{site.url}/ui/programs?q=hostile")
    assert page.locator("#programs tbody tr").count() == 1
    assert page.locator(f'#programs a[href="/ui/programs/{program_id}"]').count() == 1
    page.goto(f"{site.url}/ui/programs/{program_id}")
    assert page.locator("#description").inner_text() == HOSTILE_METADATA["description"]
    page.goto(f"{site.url}/ui/jobs/{job_id}")
    page.wait_for_function("() => document.getElementById('job').dataset.ended === 'true'")
    logs = page.locator("#logs").inner_text()
    assert SCRIPT in logs and IMG in logs
    assert SCRIPT in page.locator("#result").inner_text()
    interim = page.locator("#interim").inner_text()
    assert "window.__pwned" in interim and "<img" in interim
    page.wait_for_function(  # one numeric series (x: 1.5); the string message has none
        "() => document.getElementById('chart').dataset.points === '1'")
    assert page.locator("img").count() == 0 and page.locator("main script").count() == 0
    download = page.request.get(f"{site.url}/ui/jobs/{job_id}/result.json")
    assert download.headers["content-disposition"].startswith("attachment")
    assert SCRIPT in download.json()["text"]
    assert watched.dialogs == [] and watched.console_errors == [] and watched.page_errors == []
    context.close()


# --- another user's private pages -----------------------------------------------------------


def test_another_users_private_program_and_job_look_missing(site, browser, hostile) -> None:
    program_id, job_id = hostile
    context, page, _watched = sign_in(browser, site, "carol")
    pairs = [(f"/ui/programs/{program_id}", "/ui/programs/nothing-a1b2c3", program_id,
              "nothing-a1b2c3"),
             (f"/ui/jobs/{job_id}", "/ui/jobs/nojob123", job_id, "nojob123"),
             (f"/ui/jobs/{job_id}/result.json", "/ui/jobs/nojob123/result.json", job_id,
              "nojob123"),
             (f"/ui/jobs/{job_id}/events", "/ui/jobs/nojob123/events", job_id, "nojob123"),
             (f"/ui/reviews/{program_id}/1", "/ui/reviews/nothing-a1b2c3/1", program_id,
              "nothing-a1b2c3")]
    for private, missing, private_id, missing_id in pairs:
        hidden = page.request.get(site.url + private)
        absent = page.request.get(site.url + missing)
        assert hidden.status == absent.status == 404, private
        assert hidden.text().replace(private_id, "ID") == absent.text().replace(missing_id, "ID")
    page.goto(f"{site.url}/ui/jobs")
    assert page.locator(f'a[href="/ui/jobs/{job_id}"]').count() == 0
    page.goto(f"{site.url}/ui/programs")
    assert page.locator(f'a[href="/ui/programs/{program_id}"]').count() == 0
    context.close()


# --- the overview ---------------------------------------------------------------------------


def test_the_overview_shows_the_service_figures(site, browser, hostile) -> None:
    context, page, watched = sign_in(browser, site, "root")
    assert page.locator("#queue-depth").inner_text().isdigit()
    done = page.locator("#by-status tbody td").nth(2).inner_text()
    assert int(done) >= 1
    assert int(page.locator("#chart-per-minute").get_attribute("data-points")) == 60
    assert int(page.locator("#chart-durations").get_attribute("data-points")) >= 1
    screenshot(page, "overview")
    assert not watched.console_errors and not watched.page_errors
    context.close()


# --- without JavaScript ---------------------------------------------------------------------


def test_the_pages_read_and_work_without_javascript(site, browser, hostile) -> None:
    program_id, job_id = hostile
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site.url}/ui/login")
    page.fill("#token", site.tokens["alice"])
    page.click("form button[type=submit]")
    page.wait_for_url(f"{site.url}/ui")
    assert page.locator("#by-status").count() == 1
    page.goto(f"{site.url}/ui/jobs/{job_id}")
    assert _status(page) == "DONE"
    assert page.locator("#interim tr").count() == 2  # listed by the server
    assert SCRIPT in page.locator("#result").inner_text()
    page.goto(f"{site.url}/ui/jobs?status=DONE")
    assert page.locator(f'#job-rows a[href="/ui/jobs/{job_id}"]').count() == 1
    page.goto(f"{site.url}/ui/programs/{program_id}")
    page.click("#run")  # a plain form post
    page.wait_for_url(re.compile(r".*/ui/jobs/[^/]+$"))
    assert page.locator("#job-status").count() == 1
    context.close()


# --- a broken audit chain -------------------------------------------------------------------


def test_the_audit_page_shows_a_broken_chain(site, browser) -> None:
    """Last in this module: it changes an audit entry behind the daemon's back."""
    import sqlalchemy

    from engine.store.database import default_url

    engine = sqlalchemy.create_engine(default_url(site.daemon.home))
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(
                "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    finally:
        engine.dispose()
    context, page, _watched = sign_in(browser, site, "root")
    page.goto(f"{site.url}/ui/audit")
    state = page.locator("#chain-state").inner_text()
    assert "does not hold" in state and "audit entry 2" in state, state
    context.close()
