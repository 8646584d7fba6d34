"""A daemon and a headless chromium for the dashboard's browser tests (one of each per module).

The browser is Debian's ``chromium`` (``scripts/setup`` installs it), driven by Playwright
through ``executable_path``; Playwright's own browser download is never used. Host names
resolve to nothing in it, so no page can reach anything but the daemon on 127.0.0.1.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import REPO, Daemon, policy_dir

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO / "docs" / "screenshots"
#: Bandit's B311 (``random``) puts an upload in the review band, so it waits for a reviewer.
BAND = {"review": {"review_band": {"min_severity": None, "rule_ids": ["B311"]}}}
#: Only loopback: every host name fails to resolve inside the browser.
BROWSER_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run"]


def add_reviewer(home: Path, name: str) -> str:
    """A reviewer with one token in the store under ``home``; return the token."""
    from engine.accounts import new_token, token_hash
    from engine.store import open_database

    token = new_token()
    with open_database(home=home) as database, database.write() as tx:
        tx.users.create(name, is_reviewer=True)
        tx.users.add_token(name, token_hash(token))
    return token


@dataclass
class Site:
    """The daemon under test and its users' tokens."""

    daemon: Daemon
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.daemon.url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, runtime_image: str) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("ui-home")
    policies = policy_dir(tmp_path_factory.mktemp("ui-policies") / "policies", BAND)
    daemon = Daemon(home, policies).start()
    tokens = {"alice": daemon.user("alice"), "bob": add_reviewer(home, "bob"),
              "carol": daemon.user("carol"), "root": daemon.user("root", admin=True)}
    yield Site(daemon, tokens)
    daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: scripts/setup installs it (apt-get install chromium)",
                    pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=BROWSER_ARGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    """What a page did that it must not: dialogs opened, errors on its console."""

    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


def watch(page: Any) -> Watched:
    seen = Watched()

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: seen.console_errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    return seen


def sign_in(browser: Any, site: Site, user: str) -> tuple[Any, Any, Watched]:
    """A fresh browser context signed in as ``user``: ``(context, page, watched)``."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    watched = watch(page)
    page.goto(f"{site.url}/ui/login")
    page.fill("#token", site.tokens[user])
    page.click("form button[type=submit]")
    page.wait_for_url(f"{site.url}/ui")
    return context, page, watched


def screenshot(page: Any, name: str) -> Path:
    """Save the page as ``docs/screenshots/NAME.png`` (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
