"""A console session ends: when its admin token expires (on a page left open, too), and on
Sign out. Against a real `minibase serve` whose admin tokens last seconds."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.console.test_console_in_chromium import browser
from tests.e2e.conftest import ADMIN_PW, RunningServer, admin_headers, start_server, stop_server

__all__ = ["browser"]  # the module's Chromium
TTL = 4


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    cwd = tmp_path_factory.mktemp("short-sessions")
    running = start_server(cwd, env={"MINIBASE_ADMIN_TOKEN_TTL": str(TTL)})
    try:
        admin_headers(running)  # makes the admin
        yield running
    finally:
        stop_server(running)


def test_a_session_left_open_ends_when_its_token_expires(
    browser: Browser, short_sessions: RunningServer
) -> None:
    page = browser.new_page(locale="en-US")
    page.goto(f"{short_sessions.url}/_/")
    page.fill("#email", "me@example.com")
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("#new-collection")).to_be_visible()
    token = page.evaluate("JSON.parse(sessionStorage.getItem('minibase.console.session')).token")
    # nobody touches the page: it goes back to signing in by itself, and says why
    expect(page.get_by_text("Your session has ended: sign in again.")).to_be_visible(
        timeout=(TTL + 3) * 1000
    )
    expect(page.locator("#email")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    answer = httpx.get(
        f"{short_sessions.url}/api/admin/collections", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401


def test_the_admin_token_is_not_readable_from_another_origin(
    browser: Browser, short_sessions: RunningServer
) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{short_sessions.url}/_/")
    page.fill("#email", "me@example.com")
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("#new-collection")).to_be_visible()
    # the same server under another name is another origin: nothing of the session there
    other = context.new_page()
    other.goto(f"http://localhost:{short_sessions.port}/_/")
    expect(other.locator("#email")).to_be_visible()
    key = "'minibase.console.session'"
    assert page.evaluate(f"sessionStorage.getItem({key}) !== null")  # where it was signed in
    assert other.evaluate(f"sessionStorage.getItem({key}) === null")
    assert other.evaluate(f"localStorage.getItem({key}) === null")
    assert other.evaluate("document.cookie") == ""  # no cookie that a request would carry
    # and a page of that origin cannot read the console's API answers (no CORS for it)
    answer = httpx.get(
        f"{short_sessions.url}/api/admin/collections",
        headers={"Origin": f"http://localhost:{short_sessions.port}"},
    )
    assert answer.status_code == 401
    assert "access-control-allow-origin" not in answer.headers
    context.close()
