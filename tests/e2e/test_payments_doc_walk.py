"""docs/payments.md works as written: its functions file (price and fulfilment hooks) beside
`minibase serve --dev`, its curl walk through a whole purchase and a refund (then its buyer's
`cancel` function refunding the rest), and its mini program snippet ordering and paying."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    admin_headers,
    assert_printed_as_shown,
    doc_block,
    shown_output,
    start_server,
    stop_server,
    walk_dev_server,
)


def test_the_purchase_walk_pays_fulfils_and_refunds(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "shop.py").write_text(doc_block("payments.md", "python"))
    cancel = doc_block("payments.md", "python", after="Buyers refund through your code")
    (tmp_path / "functions" / "cancel.py").write_text(cancel)
    script = doc_block("payments.md", "sh", after="## A whole purchase with curl")
    # then ann cancels: the doc's cancel function refunds what the partial refund left
    cancelled = (
        '\ncurl -s localhost:8080/api/functions/cancel -H "Authorization: Bearer $TOKEN"'
        ' --json "{\\"order\\": \\"$ORDER\\"}" | jq -c \'.result | {amount, order_state}\'\n'
    )
    *printed, cancel_answer = walk_dev_server(script + cancelled, tmp_path)
    assert_printed_as_shown(printed, shown_output(script))
    assert cancel_answer == '{"amount":1000,"order_state":"refunding"}'


# The mini program's side, in node: wx.request with fetch, wx.requestPayment as the person
# paying in the sandbox (which checks paySign over the parameters it is handed).
_WX = """
let placed;
globalThis.wx = {
  request({ url, method, header, data, success }) {
    const headers = { ...header, "Content-Type": "application/json" };
    fetch(url, { method, headers, body: JSON.stringify(data) }).then(async (answer) => {
      placed = await answer.json();
      success({ statusCode: answer.status, data: placed });
    });
  },
  requestPayment({ success, fail, ...payment }) {
    const paid = { mchid: "1900000109", out_trade_no: placed.order.out_trade_no,
                   payment: { ...payment, appid: "wxdemo" } };
    fetch(`${SANDBOX}/control/wechatpay/pay`, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(paid) })
      .then((answer) => (answer.ok ? success() : fail()));
  },
  navigateTo({ url }) { console.log(url); },
  showToast({ title }) { console.log(`toast: ${title}`); },
};
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="the mini program's side runs in node")
def test_the_client_snippet_places_an_order_and_pays_it(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "shop.py").write_text(doc_block("payments.md", "python"))
    server = start_server(tmp_path, "--dev")
    try:
        admin = admin_headers(server)
        httpx.post(
            f"{server.url}/api/admin/apps",
            json={"platform": "wechat", "appid": "wxdemo"},
            headers=admin,
        )
        httpx.post(
            f"{server.url}/api/admin/pay/merchants",
            json={"mchid": "1900000109", "appids": ["wxdemo"]},
            headers=admin,
        )
        code = httpx.post(
            f"{server.url}/_sandbox/control/login-code",
            json={"platform": "wechat", "appid": "wxdemo", "person": "ann"},
        ).json()["code"]
        token = httpx.post(
            f"{server.url}/api/auth/wechat/login", json={"appid": "wxdemo", "code": code}
        ).json()["access_token"]
        snippet = doc_block("payments.md", "js").replace("https://api.example.com", server.url)
        given = (
            f"const SANDBOX = {json.dumps(server.url + '/_sandbox')};\n"
            f"const accessToken = {json.dumps(token)}, cartId = 'cart-1';\n"
        )
        ran = subprocess.run(
            ["node", "-e", given + _WX + snippet],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        orders = httpx.get(
            f"{server.url}/api/pay/orders", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"]
    finally:
        stop_server(server)
    assert [(order["product"], order["amount"], order["state"]) for order in orders] == [
        ("pro-yearly", 9900, "paid")
    ]
    assert ran.stdout == f"/pages/order/order?id={orders[0]['id']}\n"
