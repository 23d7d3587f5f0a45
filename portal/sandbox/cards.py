"""Test cards and their scripted outcomes, card brands, and the reason-code texts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

APPROVED = 0
INSUFFICIENT_FUNDS = 5051
EXPIRED_CARD = 5054
INVALID_CARD_NUMBER = 5014
WRONG_CVV = 5082
UNABLE_TO_PROCESS = 5204

# Reason and cardholder message (the payer text of the provider's published error-code table) per code.
_CONTACT_BANK = "Свяжитесь с вашим банком или воспользуйтесь другой картой"
_CHECK_CARD = "Проверьте правильность введенных данных карты или воспользуйтесь другой картой"
REASONS: dict[int, tuple[str, str]] = {
    0: ("Approved", "Оплата успешно проведена"),
    5001: ("ReferToCardIssuer", _CONTACT_BANK),
    5005: ("DoNotHonor", _CONTACT_BANK),
    5014: ("InvalidCardNumber", _CHECK_CARD),
    5041: ("LostCard", _CONTACT_BANK),
    5043: ("StolenCard", _CONTACT_BANK),
    5051: ("InsufficientFunds", "Недостаточно средств на карте"),
    5054: ("ExpiredCard", _CHECK_CARD),
    5057: ("TransactionNotPermitted", _CONTACT_BANK),
    5082: ("IncorrectCVV", "Неверно указан код CVV"),
    5091: ("Timeout", "Повторите попытку позже или воспользуйтесь другой картой"),
    5096: ("SystemError", "Повторите попытку позже"),
    5204: ("UnableToProcess", _CONTACT_BANK),
    5206: ("AuthenticationFailed", _CONTACT_BANK),
    # The merchant's Check answer declines the payment with its own code (10..20).
    10: ("InvalidInvoiceId", "Платёж отклонён магазином: неверный номер заказа"),
    11: ("InvalidAccountId", "Платёж отклонён магазином: неверный идентификатор покупателя"),
    12: ("InvalidAmount", "Платёж отклонён магазином: неверная сумма"),
    13: ("PaymentNotAccepted", "Платёж не может быть принят магазином"),
    20: ("PaymentExpired", "Срок оплаты истёк"),
}


def reason_for(code: int) -> tuple[str, str]:
    return REASONS.get(code, ("Declined", "Операция отклонена"))


@dataclass(frozen=True)
class TestCard:
    three_ds: bool
    first_payment: int  # reason code of the first (card-entry) payment
    token_charge: int  # reason code of later token charges


_OK, _NSF = APPROVED, INSUFFICIENT_FUNDS

# The table from shared/cloudpayments.md. Cards whose first payment fails never get a token,
# so their token outcome is only reached through a token issued some other way: keep it a decline.
TEST_CARDS: dict[str, TestCard] = {
    **dict.fromkeys(["4242424242424242", "5555555555554444", "2200000000000004"], TestCard(True, _OK, _OK)),
    **dict.fromkeys(["4012888888881881", "5105105105105100", "2202202202202200"], TestCard(True, _NSF, _NSF)),
    **dict.fromkeys(["4000000000003055", "5205000000003055", "2202000000003055"], TestCard(False, _OK, _OK)),
    **dict.fromkeys(["4111111111111111", "5200828282828210", "2200000022222222"], TestCard(False, _OK, _NSF)),
    **dict.fromkeys(["4000056655665556", "5404000000000043", "2203000000000043"], TestCard(False, _NSF, _NSF)),
}

# Any other number that passes Luhn behaves like a plain good card.
_DEFAULT_CARD = TestCard(False, _OK, _OK)


def card_for(pan: str) -> TestCard:
    return TEST_CARDS.get(pan, _DEFAULT_CARD)


def luhn_ok(pan: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(pan)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def normalise_pan(raw) -> str | None:
    """Digits of a card number typed with spaces or dashes; None when it is not a card number."""
    digits = "".join(ch for ch in str(raw or "") if ch.isdigit())
    if not 13 <= len(digits) <= 19 or not luhn_ok(digits):
        return None
    return digits


def brand(pan: str) -> tuple[str, int]:
    """Card type name and CardTypeCode (Visa 0, MasterCard 1, Maestro 2, Mir 7)."""
    if pan.startswith("4"):
        return "Visa", 0
    if pan[:4].isdigit() and 2200 <= int(pan[:4]) <= 2204:
        return "Mir", 7
    if pan[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(pan[:4]) <= 2720:
        return "MasterCard", 1
    if pan[:2] in {"50", "56", "57", "58", "63", "67"}:
        return "Maestro", 2
    return "Unknown", -1


def parse_expiry(raw) -> tuple[int, int] | None:
    """(month, four-digit year) from "MM/YY", "MM / YY", "MMYY" or "MM/YYYY"."""
    digits = "".join(ch for ch in str(raw or "") if ch.isdigit())
    if len(digits) == 4:
        month, year = int(digits[:2]), 2000 + int(digits[2:])
    elif len(digits) == 6:
        month, year = int(digits[:2]), int(digits[2:])
    else:
        return None
    if not 1 <= month <= 12:
        return None
    return month, year


def is_expired(month: int, year: int, now: datetime) -> bool:
    # A card is good through the last day of its expiry month.
    return (year, month) < (now.year, now.month)


def exp_text(month: int, year: int) -> str:
    return f"{month:02d}/{year % 100:02d}"


def mask(pan: str) -> str:
    """CardMask as tokens/list shows it: "4242 42****** 4242"."""
    return f"{pan[:4]} {pan[4:6]}{'*' * (len(pan) - 10)} {pan[-4:]}"
