"""Everything one sandbox remembers: registered apps, login and phone codes, session keys,
access tokens, WeChat Pay merchants, orders and refunds, Alipay trades and refunds, and the
deliberate faults. In memory, per Sandbox instance."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from minibase.clock import Clock
from minibase.sandbox import identities
from minibase.sandbox.content_book import ContentBook
from minibase.sandbox.faults import Faults
from minibase.sandbox.link_book import LinkBook
from minibase.sandbox.message_book import MessageBook
from minibase.sandbox.push_book import PushBook

PLATFORMS = ("wechat", "qq", "douyin", "baidu", "alipay")

TOKEN_TTL = 7200
# WeChat keeps the previous access_token usable for five minutes after a new one is issued,
# and its stable_token hands out a fresh one during the last five minutes of the old one.
TOKEN_OVERLAP = 300


@dataclass
class App:
    platform: str
    appid: str
    secret: str
    account: str | None = None
    app_public_key: str | None = None  # Alipay: the app's RSA2 public key (PEM)
    aes_key: str | None = None  # Alipay: the content-encryption key (base64)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "appid": self.appid,
            "secret": self.secret,
            "account": self.account,
            "app_public_key": self.app_public_key,
            "aes_key": self.aes_key,
        }


@dataclass
class LoginCode:
    value: str
    platform: str
    appid: str
    person: str
    kind: str  # "code", or Douyin's "anonymous_code"
    issued_at: float
    session_key: str
    used: bool = False


class CodeProblem(Enum):
    UNKNOWN = "unknown"  # never issued, or issued for another app
    USED = "used"
    EXPIRED = "expired"


@dataclass
class PhoneCode:
    value: str
    appid: str
    person: str
    phone: str
    country_code: str
    issued_at: float
    used: bool = False


@dataclass
class AccessToken:
    value: str
    platform: str
    appid: str
    stable: bool
    issued_at: float
    expires_at: float
    usable_until: float | None = None  # set when a newer token replaces this one

    def problem(self, now: float) -> str | None:
        """None while the token works; "expired" past its lifetime; "replaced" after a newer
        token's grace period."""
        if now >= self.expires_at:
            return "expired"
        if self.usable_until is not None and now >= self.usable_until:
            return "replaced"
        return None


@dataclass
class Merchant:
    """A WeChat Pay merchant: the key its requests are verified with, and its APIv3 key."""

    mchid: str
    public_key: str  # PEM
    serial: str  # the serial_no its Authorization headers carry
    api_v3_key: str  # 32 characters: seals the notifications' resources


@dataclass(frozen=True)
class Notification:
    """One event WeChat Pay tells a merchant about: made once, delivered as often as asked."""

    id: str
    url: str
    body: str  # the exact JSON text; each delivery signs it afresh


@dataclass
class PayOrder:
    mchid: str
    out_trade_no: str
    appid: str
    description: str
    openid: str
    total: int  # fen
    notify_url: str
    attach: str
    time_expire: datetime | None
    prepay_id: str
    status: str = "NOTPAY"  # NOTPAY, SUCCESS or CLOSED ("REFUND" is read off its refunds)
    transaction_id: str | None = None
    success_time: datetime | None = None
    notification: Notification | None = None  # TRANSACTION.SUCCESS, once paid


@dataclass
class PayRefund:
    mchid: str
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund: int  # fen
    total: int  # the order's total, fen
    reason: str | None
    notify_url: str | None
    create_time: datetime
    status: str = "PROCESSING"  # then SUCCESS, CLOSED or ABNORMAL, as the bank answers
    success_time: datetime | None = None
    notification: Notification | None = None  # the latest REFUND.* event


# Refunds that hold (or will hold) money: the others free their amount again.
REFUNDS_THAT_COUNT = ("PROCESSING", "SUCCESS")


@dataclass(frozen=True)
class PlatformKey:
    """The sandbox's "WeChat Pay platform" key: it signs answers and notifications."""

    private_key: RSAPrivateKey  # loaded once: loading a PEM checks the key, slowly
    public_key: str  # PEM
    serial: str  # "PUB_KEY_ID_...": sent as Wechatpay-Serial
    certificate: str  # PEM: a self-signed certificate of the same key


class WeChatPayState:
    def __init__(self) -> None:
        self.merchants: dict[str, Merchant] = {}
        self.orders: dict[tuple[str, str], PayOrder] = {}  # (mchid, out_trade_no)
        self.refunds: dict[tuple[str, str], PayRefund] = {}  # (mchid, out_refund_no)
        # Made on first use and kept across resets, like the Alipay platform key.
        self.platform_key: PlatformKey | None = None
        self.forger_key: RSAPrivateKey | None = None  # signs "forged" notifications

    def clear(self) -> None:
        self.merchants.clear()
        self.orders.clear()
        self.refunds.clear()

    def order_by_transaction(self, mchid: str, transaction_id: str) -> PayOrder | None:
        for order in self.orders.values():
            if order.mchid == mchid and order.transaction_id == transaction_id:
                return order
        return None

    def refunded(self, order: PayOrder) -> int:
        """The part of the order's total that refunds hold (processing or done)."""
        return sum(
            refund.refund
            for refund in self.refunds.values()
            if refund.mchid == order.mchid
            and refund.out_trade_no == order.out_trade_no
            and refund.status in REFUNDS_THAT_COUNT
        )


@dataclass(frozen=True)
class AlipayNotification:
    """One trade_status_sync Alipay sends a merchant: made once (its notify_id stays); each
    delivery stamps its notify_time and signs it afresh."""

    id: str
    url: str
    params: Mapping[str, str]  # without notify_time and sign


@dataclass
class AlipayTrade:
    app_id: str
    out_trade_no: str
    trade_no: str
    total: int  # fen
    subject: str
    buyer_open_id: str | None
    buyer_id: str | None  # the 2088... user id, when the trade names its buyer by that
    notify_url: str | None
    time_expire: datetime | None
    gmt_create: datetime
    passback_params: str | None = None  # sent back as given in the notification, "" included
    # WAIT_BUYER_PAY, TRADE_SUCCESS or TRADE_CLOSED (closed by the merchant); expiry and full
    # refunds are read off the trade rather than stored
    status: str = "WAIT_BUYER_PAY"
    gmt_payment: datetime | None = None
    notification: AlipayNotification | None = None  # TRADE_SUCCESS, once paid


@dataclass(frozen=True)
class AlipayRefund:
    """An Alipay refund: it settles the moment it is made."""

    app_id: str
    out_trade_no: str
    out_request_no: str
    amount: int  # fen
    reason: str | None
    gmt_refund_pay: datetime


class AlipayTradeState:
    def __init__(self) -> None:
        self.trades: dict[tuple[str, str], AlipayTrade] = {}  # (app_id, out_trade_no)
        # (app_id, out_trade_no, out_request_no): a request number is unique within its trade
        self.refunds: dict[tuple[str, str, str], AlipayRefund] = {}
        self.forger_key: RSAPrivateKey | None = None  # signs "forged" notifications; kept

    def clear(self) -> None:
        self.trades.clear()
        self.refunds.clear()

    def trade_by_trade_no(self, app_id: str, trade_no: str) -> AlipayTrade | None:
        for trade in self.trades.values():
            if trade.app_id == app_id and trade.trade_no == trade_no:
                return trade
        return None

    def refunded(self, trade: AlipayTrade) -> int:
        """The part of the trade's total refunded so far, fen."""
        return sum(
            refund.amount
            for refund in self.refunds.values()
            if refund.app_id == trade.app_id and refund.out_trade_no == trade.out_trade_no
        )


class SandboxState:
    def __init__(self, clock: Clock, code_ttl: int, timeout_seconds: float) -> None:
        self.clock = clock
        self.code_ttl = code_ttl
        self.timeout_seconds = timeout_seconds  # how long a "timeout" outage holds a call
        # Control methods may be called from another thread than the one serving HTTP.
        self.lock = threading.RLock()
        self.faults = Faults()
        self.apps: dict[tuple[str, str], App] = {}
        self.codes: dict[tuple[str, str], LoginCode] = {}
        self.sessions: dict[tuple[str, str, str], str] = {}
        self.phone_codes: dict[str, PhoneCode] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.latest_tokens: dict[tuple[str, str, bool], AccessToken] = {}
        # The "Alipay platform" RSA2 key pair (private, public PEM), made on first use.
        self.alipay_keys: tuple[str, str] | None = None
        self.wechatpay = WeChatPayState()
        self.alipay_trades = AlipayTradeState()
        self.messages = MessageBook()
        self.links = LinkBook()
        self.push = PushBook()
        self.content = ContentBook()

    def now(self) -> float:
        return self.clock.timestamp()

    def clear(self) -> None:
        """Forget apps, codes, sessions, tokens, merchants, orders, trades and faults (the
        platform keys of Alipay and WeChat Pay stay)."""
        self.faults = Faults()
        self.apps.clear()
        self.codes.clear()
        self.sessions.clear()
        self.phone_codes.clear()
        self.tokens.clear()
        self.latest_tokens.clear()
        self.wechatpay.clear()
        self.alipay_trades.clear()
        self.messages.clear()
        self.links.clear()
        self.push.clear()
        self.content.clear()

    def app(self, platform: str, appid: str) -> App | None:
        return self.apps.get((platform, appid))

    # login codes and the session keys they start

    def issue_code(self, platform: str, appid: str, person: str, kind: str = "code") -> LoginCode:
        code = LoginCode(
            value=identities.login_code(),
            platform=platform,
            appid=appid,
            person=person,
            kind=kind,
            issued_at=self.now(),
            session_key=identities.session_key(platform),
        )
        self.codes[(platform, code.value)] = code
        return code

    def redeem_code(
        self, platform: str, appid: str, value: str, kind: str = "code"
    ) -> LoginCode | CodeProblem:
        """Use a login code once; a good one makes its session key the person's current one."""
        code = self.codes.get((platform, value))
        if code is None or code.appid != appid or code.kind != kind:
            return CodeProblem.UNKNOWN
        if code.used:
            return CodeProblem.USED
        if self.now() >= code.issued_at + self.code_ttl:
            return CodeProblem.EXPIRED
        code.used = True
        if kind == "code":
            self.sessions[(platform, appid, code.person)] = code.session_key
        return code

    def session_key(self, platform: str, appid: str, person: str) -> str | None:
        return self.sessions.get((platform, appid, person))

    # WeChat phone-number codes

    def issue_phone_code(self, appid: str, person: str, phone: str, country_code: str) -> PhoneCode:
        code = PhoneCode(identities.phone_code(), appid, person, phone, country_code, self.now())
        self.phone_codes[code.value] = code
        return code

    def redeem_phone_code(self, appid: str, value: str) -> PhoneCode | None:
        code = self.phone_codes.get(value)
        if code is None or code.appid != appid or code.used:
            return None
        if self.now() >= code.issued_at + self.code_ttl:
            return None
        code.used = True
        return code

    # WeChat (and QQ) access tokens; cgi-bin/token and cgi-bin/stable_token live apart

    def issue_access_token(
        self, platform: str, appid: str, *, stable: bool, force: bool = False
    ) -> AccessToken:
        now = self.now()
        current = self.latest_tokens.get((platform, appid, stable))
        if current is not None and current.problem(now) is None:
            if stable and not force and current.expires_at - now > TOKEN_OVERLAP:
                return current
            if not stable:
                current.usable_until = min(current.expires_at, now + TOKEN_OVERLAP)
            elif force:
                current.usable_until = now
        token = AccessToken(
            identities.access_token(), platform, appid, stable, now, now + TOKEN_TTL
        )
        self.tokens[token.value] = token
        self.latest_tokens[(platform, appid, stable)] = token
        return token

    def access_token(self, value: str) -> AccessToken | None:
        return self.tokens.get(value)
