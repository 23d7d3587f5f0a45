"""YooKassa test cards (shared/yookassa.md) and the cancellation reasons with the party that gives them."""

from __future__ import annotations

from dataclasses import dataclass

# Every reason of cancellation_details the sandbox can emit, with the party that declines for it.
REASONS: dict[str, str] = {
    "insufficient_funds": "payment_network",
    "issuer_unavailable": "payment_network",
    "internal_timeout": "yoo_money",
    "rejected_by_timeout": "payment_network",
    "payment_method_limit_exceeded": "payment_network",
    "general_decline": "payment_network",
    "card_expired": "payment_network",
    "permission_revoked": "yoo_money",
    "payment_method_restricted": "payment_network",
    "fraud_suspected": "yoo_money",
    "country_forbidden": "yoo_money",
    "invalid_card_number": "payment_network",
    "call_issuer": "payment_network",
    "3d_secure_failed": "payment_network",
    "invalid_csc": "payment_network",
    "identification_required": "yoo_money",
    "canceled_by_merchant": "merchant",
    "expired_on_capture": "yoo_money",
    "expired_on_confirmation": "yoo_money",
}


@dataclass(frozen=True)
class TestCard:
    three_ds: bool
    first_payment: str | None  # cancellation reason of the widget payment, None: success
    saved_charge: str | None  # cancellation reason of later payment_method_id charges


TEST_CARDS: dict[str, TestCard] = {
    "5555555555554444": TestCard(False, None, None),
    "5555555555554477": TestCard(True, None, None),
    "5555555555550517": TestCard(False, "insufficient_funds", None),
    "5555555555550103": TestCard(False, None, "insufficient_funds"),
    "5555555555550111": TestCard(False, None, "card_expired"),
    "5555555555550129": TestCard(False, None, "permission_revoked"),
    "5555555555550137": TestCard(False, "3d_secure_failed", None),
    "5555555555550145": TestCard(False, "fraud_suspected", None),
    "5555555555550160": TestCard(False, None, "issuer_unavailable"),
}
_PLAIN_CARD = TestCard(False, None, None)


def card_for(pan: str) -> TestCard:
    return TEST_CARDS.get(pan, _PLAIN_CARD)


def card_type(pan: str) -> str:
    return {"4": "Visa", "5": "MasterCard", "2": "MIR"}.get(pan[:1], "Unknown")
