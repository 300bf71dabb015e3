"""A whole day of an operator in the console, in a real headless Chromium, against a real
`minibase serve --dev` (its sandbox plays WeChat and WeChat Pay): sign in, make a collection,
add rules, test a rule, find a user, refund an order, look at a refused payment report, retry a
dead job, sign out. Every step goes through the admin API the console shows; the test then
checks what the API says happened. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.test_console_in_chromium import browser, shot
from tests.e2e.conftest import (
    ADMIN_PW,
    RunningServer,
    admin_headers,
    doc_block,
    start_server,
    stop_server,
)

__all__ = ["browser"]  # the module's Chromium

# The receipt printer fails while it is on fire (a file beside the server says so): its job
# dies after one attempt, and succeeds when retried once the operator has put the fire out.
PRINTER = """
from pathlib import Path

from minibase.functions import function, job


@job("print_receipt", max_attempts=1)
async def print_receipt(ctx, payload):
    if Path("printer-on-fire").exists():
        raise RuntimeError("the printer is on fire")


@function(auth="admin")
async def print_receipts(ctx, input):
    await ctx.jobs.enqueue("print_receipt", {"order": input["order"]})
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def shop(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    """A shop with an app, a merchant, a buyer (ann) who paid for a coffee, a forged payment
    report the server refused, and a receipt printer job that died."""
    cwd = tmp_path_factory.mktemp("shop")
    (cwd / "functions").mkdir()
    (cwd / "functions" / "shop.py").write_text(doc_block("payments.md", "python"))
    (cwd / "functions" / "printer.py").write_text(PRINTER)
    (cwd / "printer-on-fire").touch()
    # reconciliation asks about unpaid orders after 1 s (not 5 min), looked for every second
    quick = {"MINIBASE_PAY_RECONCILE_AFTER": "1", "MINIBASE_SCHEDULER_INTERVAL": "1"}
    running = start_server(cwd, "--dev", env=quick)
    try:
        admin = admin_headers(running)
        url = running.url
        for path, body in (
            ("/api/admin/collections", {"name": "purchases", "rules": {"preset": "owner_only"}}),
            ("/api/admin/apps", {"platform": "wechat", "appid": "wxdemo"}),
            ("/api/admin/pay/merchants", {"mchid": "1900000109", "appids": ["wxdemo"]}),
        ):
            assert httpx.post(url + path, headers=admin, json=body).status_code == 201
        code = httpx.post(
            f"{url}/_sandbox/control/login-code",
            json={"platform": "wechat", "appid": "wxdemo", "person": "ann"},
        ).json()["code"]
        ann = httpx.post(f"{url}/api/auth/wechat/login", json={"appid": "wxdemo", "code": code})
        buyer = {"Authorization": f"Bearer {ann.json()['access_token']}"}
        placed = httpx.post(
            f"{url}/api/pay/orders",
            headers=buyer,
            json={"product": "coffee", "idempotency_key": "cart-1"},
        ).json()
        paid = {
            "mchid": "1900000109",
            "out_trade_no": placed["order"]["out_trade_no"],
            "payment": {**placed["payment"], "appid": "wxdemo"},
        }
        assert httpx.post(f"{url}/_sandbox/control/wechatpay/pay", json=paid).status_code == 200
        # a second coffee, paid, but WeChat Pay's notification never arrives
        lost = httpx.post(
            f"{url}/api/pay/orders",
            headers=buyer,
            json={"product": "coffee", "idempotency_key": "cart-2"},
        ).json()
        unheard = {
            "mchid": "1900000109",
            "out_trade_no": lost["order"]["out_trade_no"],
            "payment": {**lost["payment"], "appid": "wxdemo"},
            "notify": {"times": 0},
        }
        assert httpx.post(f"{url}/_sandbox/control/wechatpay/pay", json=unheard).status_code == 200
        forged = httpx.post(
            f"{url}/_sandbox/control/wechatpay/notify",
            json={"mchid": "1900000109", "out_trade_no": paid["out_trade_no"], "tamper": True},
        )
        assert [d["status"] for d in forged.json()["deliveries"]] == [401]
        # ann said yes to shipping notices, and one was sent; she wrote to the app's inbox
        post = lambda path, body, headers=None: httpx.post(url + path, json=body, headers=headers)  # noqa: E731
        post(
            "/_sandbox/control/subscribe",
            {"appid": "wxdemo", "person": "ann", "template_id": "tmpl-shipped"},
        )
        post("/api/messages/grants", {"tmpl-shipped": "accept"}, buyer)
        message = {
            "user": ann.json()["user"]["id"],
            "template_id": "tmpl-shipped",
            "data": {"thing1": "a flat white"},
        }
        assert post("/api/messages/subscribe", message, admin).status_code == 202
        httpx.patch(
            f"{url}/api/admin/apps/wechat/wxdemo", headers=admin, json={"push_token": "tok"}
        )
        inbox = {"appid": "wxdemo", "url": f"{url}/api/push/wechat/wxdemo", "token": "tok"}
        assert post("/_sandbox/control/wechat/push/config", inbox).json()["verification"]["ok"]
        hello = {
            "appid": "wxdemo",
            "person": "ann",
            "message": {"MsgType": "text", "Content": "hi"},
        }
        assert post("/_sandbox/control/wechat/push", hello).json()["deliveries"][0]["status"] == 200
        # ann also uses the shop's second app; binding her phone there merges the two accounts
        post("/api/admin/apps", {"platform": "wechat", "appid": "wxsecond"}, admin)
        phone = {"appid": "wxdemo", "person": "ann", "phone": "13800138000"}
        code = post("/_sandbox/control/phone-code", phone).json()["code"]
        assert post("/api/auth/phone", {"code": code}, buyer).status_code == 200
        person = {"platform": "wechat", "appid": "wxsecond", "person": "ann"}
        code = post("/_sandbox/control/login-code", person).json()["code"]
        second = post("/api/auth/wechat/login", {"appid": "wxsecond", "code": code}).json()
        again = {"Authorization": f"Bearer {second['access_token']}"}
        code = post("/_sandbox/control/phone-code", {**phone, "appid": "wxsecond"}).json()["code"]
        taken = post("/api/auth/phone", {"code": code}, again)
        assert taken.json()["code"] == "users.phone_taken"
        merge = {"merge_token": taken.json()["details"]["merge_token"]}
        assert post("/api/auth/merge", merge, again).status_code == 200
        cat = {"media_url": "https://cdn.example.com/cat.jpg", "media_type": "image"}
        assert post("/api/content/media-checks", cat, buyer).status_code == 202
        printing = {"order": placed["order"]["id"]}
        started = httpx.post(f"{url}/api/functions/print_receipts", headers=admin, json=printing)
        assert started.status_code == 200, started.text
        yield running, admin
    finally:
        stop_server(running)


def api(running: RunningServer, admin: dict[str, str], path: str) -> Any:
    answer = httpx.get(running.url + path, headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


def sign_in(page: Page, running: RunningServer) -> None:
    page.goto(f"{running.url}/_/")
    page.fill("#email", "me@example.com")
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("#collections")).to_be_visible()


def test_a_day_of_an_operator(browser: Browser, shop: tuple[RunningServer, dict[str, str]]) -> None:
    running, admin = shop
    page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="en-US")
    sign_in(page, running)

    # a collection for reviews, made with the form: two fields, an index, rules
    page.click("#new-collection")
    page.fill("#collection-name", "reviews")
    page.click("#add-field")
    first = page.locator(".field-row").nth(0)
    first.locator(".field-name").fill("stars")
    first.locator(".field-type").select_option("integer")
    first.locator(".field-required").check()
    first.locator(".opt-min").fill("1")
    first.locator(".opt-max").fill("0")  # a mistake the server will name
    page.click("#add-field")
    second = page.locator(".field-row").nth(1)
    second.locator(".field-name").fill("text")
    second.locator(".opt-max").fill("500")
    page.click("#add-index")
    page.locator(".index-row .index-fields").fill("-stars")
    page.select_option("#rules-preset", "public_read_owner_write")
    page.fill("#rule-update", "doc._owner == auth.id && doc.locked != true")
    page.click("#save-definition")
    expect(first.locator(".problem")).to_contain_text("max")  # beside the field it names
    refused = httpx.get(f"{running.url}/api/admin/collections/reviews", headers=admin)
    assert refused.status_code == 404  # nothing was made
    first.locator(".opt-max").fill("5")
    page.click("#save-definition")
    page.wait_for_url(re.compile(r"#/collections/reviews$"))
    made = api(running, admin, "/api/admin/collections/reviews")
    assert made["fields"] == {
        "stars": {"type": "integer", "required": True, "min": 1, "max": 5},
        "text": {"type": "string", "max": 500},
    }
    assert made["rules"]["update"] == "doc._owner == auth.id && doc.locked != true"
    assert made["rules"]["read"] == "true"  # from the preset
    assert [index["fields"] for index in made["indexes"]] == [["-stars"]]

    # does the rule do what was meant? as ann, on her locked review
    ann_id = api(running, admin, "/api/admin/pay/orders")["items"][0]["user"]
    page.goto(f"{running.url}/_/#/collections/reviews/~definition")
    # a preset with an override is kept as its five rules, spelled out
    expect(page.locator("#rules-preset")).to_have_value("")
    expect(page.locator("#rule-read")).to_have_value("true")
    expect(page.locator("#rule-update")).to_have_value(made["rules"]["update"])
    page.fill("#tester-user", ann_id)
    page.fill("#tester-record", f'{{"_owner": "{ann_id}", "stars": 2, "locked": true}}')
    page.click("#tester-run")
    update = page.locator("#tester-verdicts tr[data-action='update']")
    expect(update).to_have_attribute("data-allowed", "false")
    expect(update).to_contain_text("locked == true")
    expect(page.locator("#tester-verdicts tr[data-action='read']")).to_have_attribute(
        "data-allowed", "true"
    )
    shot(page, "collection-form")

    # overnight, reconciliation asked WeChat Pay about the coffee whose notification was lost
    deadline = time.monotonic() + 20
    while not (settled := api(running, admin, "/api/admin/pay/events?source=reconcile")["items"]):
        assert time.monotonic() < deadline, "reconciliation never ran"
        time.sleep(0.2)
    (found,) = settled

    # morning: a refund asked for by ann, for her first coffee
    paid = api(running, admin, "/api/admin/pay/orders?state=paid")["items"]
    order = next(order for order in paid if order["id"] != found["order"])
    page.click("nav >> text=Payments")
    row = page.locator(f"#orders tr[data-id='{order['id']}']")
    expect(row).to_contain_text("¥18.00")
    shot(page, "payments-orders")
    row.locator("a").click()
    expect(page.locator("#order dd[data-fact='amount']")).to_have_text("¥18.00")
    expect(page.locator("#order dd[data-fact='state']")).to_have_text("paid")
    expect(page.locator("#order-events")).to_contain_text("paid")
    page.fill("#refund-amount", "8")
    page.fill("#refund-reason", "cold coffee")
    page.click("button.refund")
    expect(page.get_by_role("alert")).to_contain_text("Refund ¥8.00 to the buyer?")
    page.click("button.confirm")
    expect(page.locator("#refunds")).to_contain_text("¥8.00")
    expect(page.locator("#order dd[data-fact='state']")).to_have_text("refunding")
    expect(page.locator("#order-events")).to_contain_text("refund_requested")
    shot(page, "payments-order")
    detail = api(running, admin, f"/api/admin/pay/orders/{order['id']}")
    assert [(r["amount"], r["reason"]) for r in detail["refunds"]] == [(800, "cold coffee")]
    # more than is left is refused by the server, and the page says so
    page.fill("#refund-amount", "100")
    page.click("button.refund")
    page.click("button.confirm")
    expect(page.locator("#order-problem")).to_contain_text(re.compile("refund", re.I))
    assert len(api(running, admin, f"/api/admin/pay/orders/{order['id']}")["refunds"]) == 1

    # the coffee whose notification was lost: reconciliation asked WeChat Pay, and it is paid
    page.click("nav >> text=Payments")
    page.click("text=Reconciliation")
    expect(page.locator("#reconciled tr[data-kind='paid']")).to_contain_text(found["order"])
    assert (
        api(running, admin, f"/api/admin/pay/orders/{found['order']}")["order"]["state"] == "paid"
    )
    shot(page, "payments-reconciliation")

    # a second merchant account: registered from the form (keys write-only), then given up
    page.click("text=Merchants")
    page.fill("#merchant-mchid", "1900000222")
    page.fill("#merchant-name", "Coffee cart")
    page.fill("#merchant-appids", "wxdemo")
    page.click("#merchant-form button[type=submit]")
    cart = page.locator("#merchants tr[data-mchid='1900000222']")
    expect(cart).to_contain_text("Coffee cart")
    merchant = api(running, admin, "/api/admin/pay/merchants/1900000222")
    assert (merchant["appids"], merchant["has_private_key"]) == (["wxdemo"], True)
    assert "private_key" not in merchant
    shot(page, "payments-merchants")
    cart.locator("button.remove-merchant").click()
    cart.locator("button.confirm").click()
    expect(page.locator("#merchants tr[data-mchid='1900000222']")).to_have_count(0)
    gone = httpx.get(f"{running.url}/api/admin/pay/merchants/1900000222", headers=admin)
    assert gone.status_code == 404

    # the forged report the server refused overnight
    page.click("nav >> text=Payments")
    page.click("text=Rejected reports")
    expect(page.locator("#rejected tr[data-kind='rejected']")).to_have_count(1)
    shot(page, "payments-rejected")

    # the app's shared access token (fetched to send the message): replaced for every instance
    before = api(running, admin, "/api/admin/apps/wechat/wxdemo")["access_token"]
    assert before["cached"] is True
    page.click("nav >> text=Apps")
    app = page.locator("#apps tr[data-appid='wxdemo']")
    expect(app.locator("td.token")).to_contain_text(f"fetched {before['refreshed_at']}")
    app.locator("button.refresh-token").click()
    app.locator("button.confirm").click()
    fresh = page.locator("#apps tr[data-appid='wxdemo'] td.token")
    expect(fresh).not_to_contain_text(before["refreshed_at"])
    expect(fresh).to_contain_text("valid until")
    after = api(running, admin, "/api/admin/apps/wechat/wxdemo")["access_token"]
    assert after["refreshed_at"] > before["refreshed_at"]
    shot(page, "apps-token")

    # a dead job: the printer was on fire; put out, the job is retried from the jobs page
    page.click("nav >> text=Jobs")
    expect(page.locator("#jobs")).to_be_visible()
    page.click("text=dead (1)")
    expect(page).to_have_url(re.compile(r"#/jobs\?state=dead$"))
    dead = page.locator("#jobs tbody tr")
    expect(dead).to_contain_text("the printer is on fire")
    shot(page, "jobs-dead")
    dead_id = dead.get_attribute("data-id")
    (running.cwd / "printer-on-fire").unlink()
    dead.locator(".retry").click()
    page.click("text=succeeded")
    expect(page.locator(f"#jobs tr[data-id='{dead_id}']")).to_contain_text("succeeded")
    assert api(running, admin, f"/api/admin/jobs/{dead_id}")["state"] == "succeeded"

    # ann writes in from the second app: found by that app's openid, with her merge history
    ann = api(running, admin, f"/api/admin/users/{ann_id}")
    (merged,) = ann["merged_from"]
    openid = next(i["openid"] for i in ann["identities"] if i["appid"] == "wxsecond")
    page.click("nav >> text=Users")
    page.fill("#user-query", openid)
    page.press("#user-query", "Enter")
    card = page.locator(f"article[data-id='{ann_id}']")
    expect(card.locator(".identities").first).to_contain_text("wxsecond")
    expect(card.locator(f".merges li[data-user='{merged['user']}']")).to_contain_text(
        f"merged into {ann_id}"
    )
    shot(page, "user-merges")
    # the account merged away leads to hers
    page.fill("#user-query", merged["user"])
    page.press("#user-query", "Enter")
    expect(page.locator(".merged-note")).to_contain_text(f"{merged['user']} was merged")
    expect(page.locator(f"article[data-id='{ann_id}']")).to_be_visible()

    # what went out to the platforms and came in from them
    page.click("nav >> text=Activity")
    expect(page.locator("#messages tr[data-state='sent']")).to_contain_text("tmpl-shipped")
    page.click("text=Message push")
    expect(page.locator("#pushes")).to_contain_text('"Content":"hi"')
    shot(page, "activity-push")
    page.click("text=Content checks")
    expect(page.locator("#media-checks tr[data-state='pending']")).to_contain_text("cat.jpg")
    # a mini program code for the shop's counter, made and kept
    page.click("text=Mini program codes")
    page.fill("#code-scene", "table=7")
    page.fill("#code-page", "pages/menu/menu")
    page.uncheck("#code-check-path")  # the menu page is not published yet
    page.click("#make-code button[type=submit]")
    code = page.locator("#qrcodes li").first
    expect(code).to_contain_text("table=7")
    expect(code.locator("img.code")).not_to_have_js_property("naturalWidth", 0)
    kept = api(running, admin, "/api/admin/qrcodes")["items"]
    assert [(c["scene"], c["page"]) for c in kept] == [("table=7", "pages/menu/menu")]
    shot(page, "activity-qrcodes")
    page.click("text=Health")
    expect(page.locator("#health-status")).to_have_text("ok")
    expect(page.locator("#health-database dd[data-fact='engine']")).to_have_text("sqlite")
    expect(page.locator("#health-realtime dd[data-fact='connections']")).to_have_text("0")
    shot(page, "activity-health")

    # sign out: the server ends the token, and the page forgets it
    token = page.evaluate("JSON.parse(sessionStorage.getItem('minibase.console.session')).token")
    page.click("#sign-out")
    expect(page.locator("#email")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    ended = httpx.get(
        f"{running.url}/api/admin/collections", headers={"Authorization": f"Bearer {token}"}
    )
    assert ended.json()["code"] == "auth.token_revoked"


def test_every_page_speaks_chinese_and_fits_a_phone(
    browser: Browser, shop: tuple[RunningServer, dict[str, str]]
) -> None:
    running, admin = shop
    order = api(running, admin, "/api/admin/pay/orders")["items"][0]["id"]
    page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN")
    page.goto(f"{running.url}/_/")
    page.fill("#email", "me@example.com")
    page.fill("#password", ADMIN_PW)
    page.keyboard.press("Enter")
    expect(page.locator("nav")).to_contain_text("支付")
    pages = {
        "#/collections/purchases/~definition": "#definition-form",
        "#/users": "#user-query",
        "#/payments": "#orders",
        f"#/payments/orders/{order}": "#order-events",
        "#/payments/merchants": "#merchants",
        "#/jobs": "#jobs",
        "#/activity": "#messages",
        "#/activity/health": "#health-database",
        "#/apps": "#apps",
    }
    for hash_, shown in pages.items():
        page.goto(f"{running.url}/_/{hash_}")
        expect(page.locator(shown)).to_be_visible()
        # wide tables scroll inside their box; the page itself never scrolls sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, hash_
        shot(page, "phone-zh-" + hash_.split("/")[1])
