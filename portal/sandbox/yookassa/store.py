"""What the emulated YooKassa remembers: payments, refunds, saved methods, receipts, idempotent answers."""

from __future__ import annotations

import hashlib
import pickle
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import wire
from .cards import card_type

FISCAL_STORAGE_NUMBER = "9999078900012345"  # ФН of the sandbox's one fake register
SHOP_FEE_PERCENT = 35  # tenths of a percent: income_amount is the amount less 3.5 %
GATEWAY_ID = "100700"


def present(body: dict) -> dict:
    """Absent fields are left out, never sent as null (the SDK crashes on some nulls)."""
    return {key: value for key, value in body.items() if value is not None}


@dataclass
class Card:
    pan: str
    expiry_month: int
    expiry_year: int

    def to_json(self) -> dict:
        return {
            "first6": self.pan[:6], "last4": self.pan[-4:],
            "expiry_month": f"{self.expiry_month:02d}", "expiry_year": f"{self.expiry_year:04d}",
            "card_type": card_type(self.pan), "issuer_country": "RU", "issuer_name": "Sandbox Bank",
        }


@dataclass
class SavedMethod:
    """A card the customer entered once; `id` is the id of the payment that first used it."""

    id: str
    card: Card
    saved: bool
    revoked: bool = False

    def to_json(self) -> dict:
        return {"type": "bank_card", "id": self.id, "saved": self.saved and not self.revoked,
                "status": "inactive" if self.revoked or not self.saved else "active",
                "title": f"Bank card *{self.card.pan[-4:]}", "card": self.card.to_json()}


@dataclass
class Payment:
    id: str
    amount: int  # minor units
    currency: str
    capture: bool
    created_at: datetime
    status: str = "pending"
    description: str | None = None
    metadata: dict | None = None
    save_payment_method: bool = False
    confirmation_token: str | None = None
    locale: str | None = None  # confirmation.locale of an embedded payment: the widget's language
    return_url: str | None = None
    method: SavedMethod | None = None
    captured_at: datetime | None = None
    expires_at: datetime | None = None
    cancellation: tuple[str, str] | None = None  # (party, reason)
    refunded: int = 0
    merchant_customer_id: str | None = None
    receipt_registration: str | None = None
    receipt: dict | None = None  # as the merchant sent it
    authorization: dict | None = None
    attempted: bool = False  # the widget's one card attempt has started

    @property
    def paid(self) -> bool:
        return self.status in {"waiting_for_capture", "succeeded"}

    @property
    def refundable_left(self) -> int:
        return self.amount - self.refunded if self.status == "succeeded" else 0

    def to_json(self, shop_id: str) -> dict:
        """The payment as GET answers it; absent fields are left out, never sent as null."""
        fee = self.amount * SHOP_FEE_PERCENT // 1000
        body = {
            "id": self.id,
            "status": self.status,
            "paid": self.paid,
            "amount": wire.amount_json(self.amount, self.currency),
            "income_amount": wire.amount_json(self.amount - fee, self.currency),
            "description": self.description,
            "recipient": {"account_id": shop_id, "gateway_id": GATEWAY_ID},
            "payment_method": self.method.to_json() if self.method else None,
            "captured_at": wire.iso_time(self.captured_at),
            "created_at": wire.iso_time(self.created_at),
            "expires_at": wire.iso_time(self.expires_at),
            "confirmation": ({"type": "embedded", "confirmation_token": self.confirmation_token}
                             if self.confirmation_token and self.status == "pending" else None),
            "test": True,
            "refunded_amount": (wire.amount_json(self.refunded, self.currency)
                                if self.status == "succeeded" else None),
            "refundable": self.refundable_left > 0,
            "receipt_registration": self.receipt_registration,
            "metadata": dict(self.metadata) if self.metadata is not None else {},
            "cancellation_details": ({"party": self.cancellation[0], "reason": self.cancellation[1]}
                                     if self.cancellation else None),
            "authorization_details": self.authorization,
            "merchant_customer_id": self.merchant_customer_id,
        }
        return present(body)


@dataclass
class Refund:
    id: str
    payment_id: str
    amount: int
    currency: str
    created_at: datetime
    status: str = "succeeded"
    description: str | None = None
    metadata: dict | None = None
    receipt_registration: str | None = None
    receipt: dict | None = None
    rrn: str | None = None

    def to_json(self) -> dict:
        body = {
            "id": self.id, "payment_id": self.payment_id, "status": self.status,
            "amount": wire.amount_json(self.amount, self.currency),
            "created_at": wire.iso_time(self.created_at), "description": self.description,
            "receipt_registration": self.receipt_registration,
            "metadata": dict(self.metadata) if self.metadata is not None else None,
            "refund_authorization_details": {"rrn": self.rrn} if self.rrn else None,
        }
        return present(body)


@dataclass
class Receipt:
    id: str
    type: str  # payment | refund
    payment_id: str | None
    refund_id: str | None
    status: str
    created_at: datetime
    body: dict  # what the merchant sent: customer, items, tax_system_code, settlements
    fiscal_document_number: str | None = None
    registered_at: datetime | None = None

    def to_json(self) -> dict:
        body = {
            "id": self.id, "type": self.type, "payment_id": self.payment_id, "refund_id": self.refund_id,
            "status": self.status,
            "fiscal_document_number": self.fiscal_document_number,
            "fiscal_storage_number": FISCAL_STORAGE_NUMBER if self.fiscal_document_number else None,
            "fiscal_attribute": _fiscal_attribute(self) if self.fiscal_document_number else None,
            "registered_at": wire.iso_time(self.registered_at), "fiscal_provider_id": "sandbox-ofd",
            "items": self.body.get("items") or [], "settlements": self.body.get("settlements"),
            "tax_system_code": self.body.get("tax_system_code"), "internet": self.body.get("internet", True),
        }
        return present(body)


def _fiscal_attribute(receipt: Receipt) -> str:
    """ФП: ten digits derived from the receipt, so a repeat shows the same value."""
    seed = f"{receipt.id}|{receipt.fiscal_document_number}|{wire.iso_time(receipt.registered_at)}".encode()
    return str(1_000_000_000 + int(hashlib.sha256(seed).hexdigest(), 16) % 3_294_967_295)


@dataclass
class Answer:
    """One Idempotence-Key: what it was used for, and the answer once the first request finished."""

    fingerprint: str
    expires: datetime
    status: int | None = None
    body: dict | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("done")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.done = threading.Event()
        self.done.set()


IDEMPOTENCE_TTL = timedelta(hours=24)
_PERSISTED = ("payments", "refunds", "methods", "receipts", "answers", "clock_offset", "fiscal_counter")


class Store:
    """Everything behind one lock; optionally saved to a file so a restarted sandbox remembers it."""

    def __init__(self, state_file: str | None = None):
        self.lock = threading.RLock()
        self._state_file = Path(state_file) if state_file else None
        self.clear(save=False)
        if self._state_file and self._state_file.exists():
            with self._state_file.open("rb") as handle:
                self.__dict__.update(pickle.load(handle))

    def clear(self, save: bool = True) -> None:
        with self.lock:
            self.payments: dict[str, Payment] = {}
            self.refunds: dict[str, Refund] = {}
            self.methods: dict[str, SavedMethod] = {}
            self.receipts: dict[str, Receipt] = {}
            self.answers: dict[str, Answer] = {}
            self.clock_offset = timedelta()
            self.fiscal_counter = 0
            if save:
                self.save()

    def save(self) -> None:
        if self._state_file is None:
            return
        with self.lock:
            state = {name: getattr(self, name) for name in _PERSISTED}
            # Answers still being computed are not kept: a restart lost their request anyway.
            state["answers"] = {k: a for k, a in self.answers.items() if a.done.is_set()}
            temporary = self._state_file.with_suffix(".tmp")
            with temporary.open("wb") as handle:
                pickle.dump(state, handle)
            temporary.replace(self._state_file)

    # --- the sandbox clock (advanced by the control surface to expire things) ---

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += timedelta(seconds=seconds)

    # --- lookups ---

    def payment(self, payment_id: str) -> Payment | None:
        with self.lock:
            return self.payments.get(payment_id)

    def payment_by_token(self, token: str) -> Payment | None:
        with self.lock:
            return next((p for p in self.payments.values() if p.confirmation_token == token), None)

    def refund(self, refund_id: str) -> Refund | None:
        with self.lock:
            return self.refunds.get(refund_id)

    def next_fiscal_document(self) -> str:
        with self.lock:
            self.fiscal_counter += 1
            return str(self.fiscal_counter)

    # --- Idempotence-Key answers ---

    def claim_answer(self, key: str, fingerprint: str) -> tuple[Answer, bool]:
        """The slot for this key and whether the caller is the first to use it."""
        now = self.now()
        with self.lock:
            for stale in [k for k, a in self.answers.items() if a.expires <= now]:
                del self.answers[stale]
            slot = self.answers.get(key)
            if slot is not None:
                return slot, False
            slot = self.answers[key] = Answer(fingerprint, now + IDEMPOTENCE_TTL)
            return slot, True

    def fill_answer(self, slot: Answer, status: int, body: dict) -> None:
        slot.status, slot.body = status, body
        slot.done.set()
        self.save()

    def drop_answer(self, key: str, slot: Answer) -> None:
        """Forget a key whose first request did nothing (a fault, a crash): a repeat is processed afresh."""
        with self.lock:
            if self.answers.get(key) is slot:
                del self.answers[key]
        slot.done.set()
