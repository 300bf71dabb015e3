"""The admin console in a real headless Chromium (Debian's), against a real `minibase serve`:
an operator signs in, finds a collection, pages through its records, filters them, edits one
(and is told when someone else changed it first), and signs out. Record values holding HTML
show as text and run nothing. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import io
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import (
    ADMIN_PW,
    RunningServer,
    admin_headers,
    start_server,
    stop_server,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "no chromium: ./scripts/install-system-deps installs Debian's"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


# A job that always fails (dead after one attempt), one queued for tomorrow, and a function
# (admins only) that enqueues both: what an operator meets on the jobs page.
JOBS = """
from datetime import datetime, timedelta, timezone

from minibase.functions import function, job


@job("print_receipt", max_attempts=1)
async def print_receipt(ctx, payload):
    raise RuntimeError("the printer is on fire")


@job("send_digest")
async def send_digest(ctx, payload):
    pass


@function(auth="admin")
async def start_jobs(ctx, input):
    await ctx.jobs.enqueue("print_receipt", {"order": 1})
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    await ctx.jobs.enqueue("send_digest", {}, run_at=tomorrow)
    return {"ok": True}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "jobs.py").write_text(JOBS)
    running = start_server(tmp_path)
    try:
        headers = admin_headers(running)
        notes = {
            "name": "notes",
            "fields": {"title": {"type": "string"}, "n": {"type": "integer"}},
            "rules": {"preset": "public_read_owner_write"},
        }
        assert httpx.post(f"{running.url}/api/admin/collections", headers=headers, json=notes)
        records = [{"title": f"note {n}", "n": n} for n in range(24)]
        records.append({"title": HOSTILE, "n": 99})
        bulk = httpx.post(
            f"{running.url}/api/collections/notes/records/bulk-create",
            headers=headers,
            json={"records": records},
        )
        assert bulk.status_code == 201, bulk.text
        yield running, headers
    finally:
        stop_server(running)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_operator_browses_edits_and_signs_out(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, headers = server
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    answer = page.goto(f"{running.url}/_/")
    assert answer is not None
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"

    page.fill("#email", "me@example.com")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_be_visible()
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("#collections")).to_contain_text("notes")
    shot(page, "collections")

    page.click("text=notes")
    expect(page.locator("#records tbody tr")).to_have_count(20)
    page.click("#next")
    expect(page.locator("#records")).to_contain_text(HOSTILE)  # shown as text
    assert dialogs == []  # and nothing ran
    assert page.locator("#records img").count() == 0
    shot(page, "records")

    page.fill("#filter", '{"n": {"$gte": 22}}')
    page.fill("#sort", "-n")
    page.click("button[type=submit]")
    expect(page.locator("#records tbody tr")).to_have_count(3)
    expect(page.locator("#records tbody tr").first).to_contain_text("99")

    page.locator("#records tbody tr").nth(1).locator("a").click()
    editor = page.locator("#record")
    expect(editor).to_have_value(re.compile("note 23"))
    record_id = page.url.rsplit("/", 1)[1]
    editor.fill('{"title": "edited in the console", "n": 23}')
    page.click("#save")
    expect(page.get_by_role("status")).to_contain_text("Saved")
    stored = httpx.get(f"{running.url}/api/collections/notes/records/{record_id}").json()
    assert (stored["title"], stored["_version"]) == ("edited in the console", 2)

    # someone else changes it meanwhile: the console says so instead of overwriting
    httpx.patch(
        f"{running.url}/api/collections/notes/records/{record_id}",
        headers=headers,
        json={"title": "changed elsewhere"},
    )
    editor.fill('{"title": "mine", "n": 23}')
    page.click("#save")
    expect(page.get_by_role("alert")).to_contain_text("version 3")
    shot(page, "conflict")

    page.click("#sign-out")
    expect(page.locator("#email")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(f"{running.url}/_/#/collections/notes")
    expect(page.locator("#email")).to_be_visible()  # no way back in without signing in


def test_the_console_speaks_chinese_and_fits_a_phone(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, _ = server
    page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN")
    page.goto(f"{running.url}/_/")
    expect(page.locator("button[type=submit]")).to_have_text("登录")
    page.fill("#email", "me@example.com")
    page.fill("#password", ADMIN_PW)
    page.keyboard.press("Enter")  # keyboard only
    expect(page.locator("#collections")).to_contain_text("notes")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "phone-zh")


def signed_in_page(browser: Browser, running: RunningServer) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    page.goto(f"{running.url}/_/")
    page.fill("#email", "me@example.com")
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("#collections")).to_be_visible()
    return page


def test_an_operator_makes_a_collection_and_looks_after_a_user(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, headers = server
    page = signed_in_page(browser, running)

    page.click("#new-collection")
    page.click("#definition-json-tab")  # the definition as JSON, beside the form
    page.fill("#definition", '{"name": "shops", "fields": {"name": {"type": "text"}}}')
    page.click("#save-definition")
    expect(page.locator("#definition-problem")).to_contain_text("fields.name")  # the server's
    page.fill(
        "#definition",
        '{"name": "shops", "fields": {"name": {"type": "string", "required": true}},'
        ' "rules": {"preset": "public_read_admin_write"}}',
    )
    page.click("#save-definition")
    page.click("#new-record")
    page.fill("#record", '{"name": "<b>Tea</b> house"}')
    page.click("#create-record")
    page.wait_for_url(re.compile(r"#/collections/shops/[0-9a-z]{26}$"))
    expect(page.locator("#record")).to_have_value(re.compile("<b>Tea</b> house"))
    shop_id = page.url.rsplit("/", 1)[1]
    listed = httpx.get(f"{running.url}/api/collections/shops/records").json()["items"]
    assert [shop["_id"] for shop in listed] == [shop_id]
    page.click("button.delete-record")  # asks first; Keep changes nothing
    expect(page.get_by_role("alert")).to_contain_text(f"Delete record {shop_id}?")
    page.click("button.keep")
    assert httpx.get(f"{running.url}/api/collections/shops/records/{shop_id}").status_code == 200
    page.click("button.delete-record")
    page.click("button.confirm")
    expect(page.get_by_text("No records match.")).to_be_visible()

    user = httpx.post(f"{running.url}/api/admin/users", headers=headers, json={}).json()
    page.goto(f"{running.url}/_/#/collections/shops/~definition")
    page.fill("#tester-user", user["id"])
    page.fill("#tester-record", '{"name": "Tea house"}')
    page.click("#tester-run")
    verdicts = page.locator("#tester-verdicts")
    expect(verdicts.locator("tr[data-action=read]")).to_have_attribute("data-allowed", "true")
    expect(verdicts.locator("tr[data-action=update]")).to_have_attribute("data-allowed", "false")
    expect(verdicts.locator("tr[data-action=update]")).to_contain_text("only admins may")
    shot(page, "rule-tester")

    pair = httpx.post(f"{running.url}/api/admin/users/{user['id']}/tokens", headers=headers)
    token = pair.json()["access_token"]
    page.click("text=Users")
    page.fill("#user-query", user["id"])
    page.click("button[type=submit]")
    card = page.locator(f"article[data-id='{user['id']}']")
    card.locator("input.roles").fill("editor, support")
    card.locator(".save-roles").click()
    expect(page.locator(f"article[data-id='{user['id']}'] input.roles")).to_have_value(
        "editor, support"
    )
    page.locator(f"article[data-id='{user['id']}'] .revoke").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out everywhere")
    me = httpx.get(f"{running.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401  # the console went through the admin API, which revoked it
    page.locator(f"article[data-id='{user['id']}'] .toggle-disabled").click()
    expect(page.locator(f"article[data-id='{user['id']}']")).to_contain_text("disabled")
    stored = httpx.get(f"{running.url}/api/admin/users/{user['id']}", headers=headers).json()
    assert (stored["roles"], stored["disabled"]) == (["editor", "support"], True)
    shot(page, "user")

    started = httpx.post(f"{running.url}/api/functions/start_jobs", headers=headers, json={})
    assert started.status_code == 200, started.text
    page.click("text=Jobs")
    page.click("a[href='#/jobs?state=dead']")
    expect(page.locator("a.current")).to_contain_text("dead")
    dead = page.locator("#jobs tbody tr", has_text="print_receipt")
    expect(dead).to_contain_text("the printer is on fire")  # waits for the worker to fail it
    shot(page, "jobs")
    job_id = dead.get_attribute("data-id")
    jobs_url = f"{running.url}/api/admin/jobs/{job_id}"
    before = httpx.get(jobs_url, headers=headers).json()
    dead.locator(".retry").click()
    deadline = time.monotonic() + 10
    while httpx.get(jobs_url, headers=headers).json()["updated"] == before["updated"]:
        assert time.monotonic() < deadline, "the retry never reached the job"
        time.sleep(0.05)
    page.click("a[href='#/jobs?state=queued']")
    expect(page.locator("a.current")).to_contain_text("queued")
    queued = page.locator("#jobs tbody tr", has_text="send_digest")
    queued.locator(".cancel").click()
    page.click("a[href='#/jobs?state=cancelled']")
    expect(page.locator("#jobs tbody tr", has_text="send_digest")).to_be_visible()
    states = {
        job["name"]: job["state"]
        for job in httpx.get(f"{running.url}/api/admin/jobs", headers=headers).json()["items"]
    }
    assert states["send_digest"] == "cancelled"
    assert states["print_receipt"] in ("queued", "running", "dead")  # retried, and failing again

    # the shops collection is not wanted after all: dropped, after saying what that means
    page.goto(f"{running.url}/_/#/collections/shops/~definition")
    page.click("button.drop-collection")
    expect(page.get_by_role("alert").first).to_contain_text("Drop shops and all its records")
    page.click("button.confirm")
    expect(page.locator("#collections")).not_to_contain_text("shops")
    gone = httpx.get(f"{running.url}/api/admin/collections/shops", headers=headers)
    assert gone.status_code == 404


def test_the_api_documentation_is_a_page_to_read_and_try(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, _ = server
    page = signed_in_page(browser, running)  # the page then tries calls with the admin token
    answer = page.goto(f"{running.url}/api/docs")
    assert answer is not None
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    listing = page.locator("details[data-operation='list_route']")
    expect(listing).to_contain_text("/api/collections/{name}/records")
    listing.locator("summary").click()
    listing.locator("input[aria-label=name]").fill("notes")
    listing.locator("input.query").fill("limit=2")
    listing.locator("button.send").click()
    expect(listing.locator("pre.answer")).to_contain_text("200")
    expect(listing.locator("pre.answer")).to_contain_text('"next_cursor"')
    shot(page, "api-docs")


def test_an_app_is_registered_and_its_secret_is_never_shown(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, headers = server
    page = signed_in_page(browser, running)
    secret = "s3cr3t-value-that-must-not-show"
    page.click("text=Apps")
    page.select_option("#app-platform", "wechat")
    page.fill("#app-appid", "wx0123456789abcdef")
    page.fill("#app-secret", secret)
    page.click("#register-app button[type=submit]")
    row = page.locator("#apps tr[data-appid='wx0123456789abcdef']")
    expect(row.locator("td.has-secret")).to_have_text("set")
    assert secret not in page.content()
    listed = httpx.get(f"{running.url}/api/admin/apps", headers=headers).json()
    apps = listed["items"] if isinstance(listed, dict) else listed
    assert [(a["appid"], a["has_secret"]) for a in apps] == [("wx0123456789abcdef", True)]
    assert secret not in str(listed)
    shot(page, "apps")
    row.locator("button.remove-app").click()
    row.locator("button.confirm").click()
    expect(page.locator("#apps tr[data-appid='wx0123456789abcdef']")).to_have_count(0)
    left = httpx.get(f"{running.url}/api/admin/apps", headers=headers).json()
    assert (left["items"] if isinstance(left, dict) else left) == []


def test_images_of_file_fields_show_as_thumbnails_and_are_uploaded_from_the_page(
    browser: Browser, server: tuple[RunningServer, dict[str, str]], tmp_path: Path
) -> None:
    running, headers = server
    photo = {"type": "file", "types": ["image/*"], "thumbs": ["32x32"]}
    made = httpx.post(
        f"{running.url}/api/admin/collections",
        headers=headers,
        json={"name": "posts", "fields": {"photo": photo}, "rules": {"preset": "owner_only"}},
    )
    assert made.status_code == 201, made.text
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image, "PNG")
    stored = httpx.post(
        f"{running.url}/api/collections/posts/files/photo",
        headers=headers,
        files={"file": ("red & white.png", image.getvalue())},
    ).json()["file"]
    created = httpx.post(
        f"{running.url}/api/collections/posts/records",
        headers=headers,
        json={"photo": stored["id"]},
    )
    assert created.status_code == 201, created.text
    page = signed_in_page(browser, running)
    page.click("text=posts")
    thumb = page.locator("#records img.thumb")
    expect(thumb).to_have_attribute("alt", "red & white.png")  # the name, as given
    # the field's thumbnail size, not the whole image
    expect(thumb).to_have_js_property("naturalWidth", 32)
    shot(page, "thumbnails")

    # a new photo, uploaded into the record from its page, replaces the old one
    blue = tmp_path / "blue.png"
    Image.new("RGB", (80, 60), (30, 30, 200)).save(blue, "PNG")
    page.click("#records td a")
    page.set_input_files("#upload-photo", str(blue))
    page.click(".file-field[data-field='photo'] button.upload")
    expect(page.locator(".file-field[data-field='photo'] img.thumb")).to_have_attribute(
        "alt", "blue.png"
    )
    record_id = created.json()["_id"]
    now = httpx.get(f"{running.url}/api/collections/posts/records/{record_id}", headers=headers)
    assert (now.json()["photo"]["name"], now.json()["photo"]["size"]) == (
        "blue.png",
        blue.stat().st_size,
    )
    # a file of a type the field does not take is refused, and the page says why
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    page.set_input_files("#upload-photo", str(text))
    page.click(".file-field[data-field='photo'] button.upload")
    expect(page.get_by_role("alert")).to_be_visible()
    again = httpx.get(f"{running.url}/api/collections/posts/records/{record_id}", headers=headers)
    assert again.json()["photo"]["name"] == "blue.png"
