"""In-memory storage of the emulated provider: transactions, saved cards, idempotent answers."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from . import wire
from .cards import mask, reason_for

# Operation types as the provider numbers them in the transaction model.
TYPE_PAYMENT, TYPE_REFUND = 0, 1

STATUS_CODES = {"AwaitingAuthentication": 1, "Authorized": 2, "Completed": 3, "Cancelled": 4, "Declined": 5}

# Three-letter code → CurrencyCode, per the provider's reference.
CURRENCIES = {"RUB": 0, "USD": 1, "EUR": 2, "GBP": 3, "UAH": 4, "KZT": 7}

IDEMPOTENCY_TTL = 3600.0

# Transaction ids never restart inside one process (a reset keeps counting) and start from the
# clock, so a portal database that outlives a sandbox restart does not see an id reused.
_transaction_ids = itertools.count(1_000_000_000 + (int(time.time()) * 100) % 1_000_000_000)


@dataclass
class Card:
    pan: str
    exp_month: int
    exp_year: int

    @property
    def exp(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"


@dataclass
class Transaction:
    id: int
    public_id: str
    type: int
    amount: int  # minor units
    currency: str
    card: Card
    card_type: str
    card_type_code: int
    status: str
    reason_code: int
    created: datetime
    account_id: str | None = None
    invoice_id: str | None = None
    email: str | None = None
    description: str | None = None
    json_data: str | None = None
    name: str | None = None
    ip_address: str | None = None
    auth_date: datetime | None = None
    confirm_date: datetime | None = None
    auth_code: str | None = None
    rrn: str | None = None
    token: str | None = None
    original_transaction_id: int | None = None
    refunded_amount: int = 0  # minor units returned so far (payments only)
    terminal_url: str = ""

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded_amount if self.status == "Completed" else 0

    def to_model(self) -> dict:
        """The full transaction model; every key is present so strict clients can read it."""
        reason, holder_message = reason_for(self.reason_code)
        amount = wire.json_amount(self.amount)
        return {
            "ReasonCode": self.reason_code,
            "PublicId": self.public_id,
            "TerminalUrl": self.terminal_url,
            "TransactionId": self.id,
            "Amount": amount,
            "Currency": self.currency,
            "CurrencyCode": CURRENCIES[self.currency],
            "PaymentAmount": amount,
            "PaymentCurrency": self.currency,
            "PaymentCurrencyCode": CURRENCIES[self.currency],
            "InvoiceId": self.invoice_id,
            "AccountId": self.account_id,
            "Email": self.email,
            "Description": self.description,
            "JsonData": self.json_data,
            "CreatedDate": wire.ms_date(self.created),
            "CreatedDateIso": wire.iso_date(self.created),
            "AuthDate": wire.ms_date(self.auth_date),
            "AuthDateIso": wire.iso_date(self.auth_date),
            "ConfirmDate": wire.ms_date(self.confirm_date),
            "ConfirmDateIso": wire.iso_date(self.confirm_date),
            "AuthCode": self.auth_code,
            "TestMode": True,
            "Rrn": self.rrn,
            "OriginalTransactionId": self.original_transaction_id,
            "IpAddress": self.ip_address,
            "IpCountry": "RU",
            "IpCity": "Москва",
            "IpRegion": "Москва",
            "IpDistrict": "Центральный федеральный округ",
            "IpLatitude": 55.75222,
            "IpLongitude": 37.61556,
            "CardFirstSix": self.card.pan[:6],
            "CardLastFour": self.card.pan[-4:],
            "CardExpDate": self.card.exp,
            "CardType": self.card_type,
            "CardTypeCode": self.card_type_code,
            "Issuer": "Sandbox Bank",
            "IssuerBankCountry": "RU",
            "Status": self.status,
            "StatusCode": STATUS_CODES[self.status],
            "Reason": reason,
            "CardHolderMessage": holder_message,
            "Type": self.type,
            "Refunded": self.refunded_amount > 0,
            "Name": self.name,
            "Token": self.token,
            "SubscriptionId": None,
            "GatewayName": "Test",
            "TotalFee": 0,
        }


@dataclass
class SavedCard:
    token: str
    account_id: str
    card: Card
    created: datetime

    def to_model(self) -> dict:
        return {
            "Token": self.token,
            "AccountId": self.account_id,
            "CardMask": mask(self.card.pan),
            "ExpirationDateMonth": self.card.exp_month,
            "ExpirationDateYear": self.card.exp_year,
        }


@dataclass
class _Answer:
    """One X-Request-ID slot: the first request fills it, repeats wait for it and reuse it."""

    expires: float
    done: threading.Event = field(default_factory=threading.Event)
    status: int | None = None
    body: dict | None = None


class Store:
    """Everything the provider remembers, behind one lock (the app runs as one threaded process)."""

    def __init__(self, secret: str):
        self.lock = threading.RLock()
        self._secret = secret
        self.transactions: dict[int, Transaction] = {}
        self.saved_cards: dict[str, SavedCard] = {}
        self._answers: dict[str, _Answer] = {}

    def clear(self) -> None:
        with self.lock:
            self.transactions.clear()
            self.saved_cards.clear()
            self._answers.clear()

    # --- transactions ---

    def new_transaction_id(self) -> int:
        return next(_transaction_ids)

    def add(self, txn: Transaction) -> Transaction:
        with self.lock:
            self.transactions[txn.id] = txn
        return txn

    def get(self, transaction_id: int) -> Transaction | None:
        with self.lock:
            return self.transactions.get(transaction_id)

    def latest_for_invoice(self, invoice_id: str) -> Transaction | None:
        with self.lock:
            payments = [t for t in self.transactions.values()
                        if t.invoice_id == invoice_id and t.type == TYPE_PAYMENT]
        return max(payments, key=lambda t: (t.created, t.id), default=None)

    def all_transactions(self) -> list[Transaction]:
        with self.lock:
            return sorted(self.transactions.values(), key=lambda t: t.id)

    # --- saved cards ---

    def save_card(self, card: Card, account_id: str, now: datetime) -> SavedCard:
        """The token for this card and account: the same pair always gets the same token."""
        seed = f"{self._secret}|{card.pan}|{account_id}".encode()
        token = "tk_" + hashlib.sha256(seed).hexdigest()[:29]
        with self.lock:
            saved = self.saved_cards.get(token)
            if saved is None:
                saved = self.saved_cards[token] = SavedCard(token, account_id, card, now)
            else:
                # A later payment with a renewed card keeps the token but refreshes the expiry.
                saved.card = card
            return saved

    def saved_card(self, token: str) -> SavedCard | None:
        with self.lock:
            return self.saved_cards.get(token)

    def all_saved_cards(self) -> list[SavedCard]:
        with self.lock:
            return sorted(self.saved_cards.values(), key=lambda s: (s.created, s.token))

    # --- X-Request-ID answers ---

    def claim_answer(self, request_id: str) -> tuple[_Answer, bool]:
        """The slot for this id and whether the caller owns it (is the first to ask)."""
        now = time.monotonic()
        with self.lock:
            for key in [k for k, a in self._answers.items() if a.expires < now]:
                del self._answers[key]
            slot = self._answers.get(request_id)
            if slot is not None:
                return slot, False
            slot = self._answers[request_id] = _Answer(expires=now + IDEMPOTENCY_TTL)
            return slot, True

    def fill_answer(self, slot: _Answer, status: int, body: dict) -> None:
        slot.status, slot.body = status, body
        slot.done.set()

    def drop_answer(self, request_id: str, slot: _Answer) -> None:
        """Forget a slot whose first request crashed, so a retry is processed afresh."""
        with self.lock:
            if self._answers.get(request_id) is slot:
                del self._answers[request_id]
        slot.done.set()
