"""CloudPayments decline reason codes: what to tell the customer, whether a renewal may try again, and
the neutral category each code means to billing."""
from __future__ import annotations

from portal.providers.base import Decline, DeclineCategory

DEFAULT_CUSTOMER_MESSAGE = "Payment declined. Please try again or use another card"

# code → (provider's name for staff pages, message shown to the customer)
REASONS: dict[int, tuple[str, str]] = {
    5005: ("Do not honor", "Payment declined by your bank"),
    5014: ("Invalid card number", "Invalid card number"),
    # Lost and stolen cards get the same neutral answer as any decline: telling whoever holds the
    # card why it failed helps the wrong person.
    5041: ("Lost card", "Card declined. Contact your bank or use another card"),
    5043: ("Stolen card", "Card declined. Contact your bank or use another card"),
    5051: ("Insufficient funds", "Insufficient funds"),
    5054: ("Expired card", "Card expired"),
    5057: ("Transaction not permitted", "This card cannot be used for this payment"),
    5082: ("Incorrect CVV", "Incorrect CVV code"),
    5091: ("Issuer timeout", "Your bank did not answer in time. Please try again later"),
    5096: ("System error", "Payment system error. Please try again later"),
    5204: ("Unable to process", "The payment could not be processed. Please try again later"),
    5206: ("3-D Secure failed", "3-D Secure verification failed"),
}

# The provider advises never to retry a recurring charge after these: the issuer will keep refusing,
# and repeated attempts count against the merchant.
NEVER_RETRY = frozenset({5001, 5003, 5005, 5012, 5017, 5033, 5034, 5057})

# Two failures in a row with one of these block the card at the provider for 24 hours, so a second
# attempt within a day must be spaced out, not fired immediately.
BLOCK_AFTER_TWO_FAILURES = frozenset({5013, 5014, 5030, 5051, 5054, 5055, 5063, 5065, 5096})


def customer_message(code: int | None) -> str:
    """Short English message for the customer; a generic one for unknown codes."""
    if code is None:
        return DEFAULT_CUSTOMER_MESSAGE
    return REASONS.get(code, (None, DEFAULT_CUSTOMER_MESSAGE))[1]


def reason_name(code: int | None) -> str | None:
    """The provider's name of the code, for staff pages; None when the table does not know it."""
    entry = REASONS.get(code) if code is not None else None
    return entry[0] if entry else None


def retry_allowed(code: int | None) -> bool:
    """False for the codes the provider says never to retry; a decline without a code may be retried."""
    return code not in NEVER_RETRY


def blocks_after_two_failures(code: int | None) -> bool:
    """True when a second failure with this code blocks the card for 24 hours."""
    return code in BLOCK_AFTER_TWO_FAILURES


# The neutral category of each code billing's dunning and pages see; a code not named here is OTHER.
CATEGORIES: dict[int, DeclineCategory] = {
    5051: DeclineCategory.INSUFFICIENT_FUNDS,
    5033: DeclineCategory.EXPIRED_CARD,
    5054: DeclineCategory.EXPIRED_CARD,
    5005: DeclineCategory.DO_NOT_HONOR,
    **dict.fromkeys((5001, 5003, 5012, 5017, 5034, 5041, 5043, 5057, 5014), DeclineCategory.NEVER_RETRY),
    **dict.fromkeys((5091, 5096, 5204, 5013, 5030, 5055, 5063, 5065), DeclineCategory.TRY_LATER),
    5206: DeclineCategory.THREE_DS_FAILED,
}


def decline(code: int | None, reason: str | None = None, card_holder_message: str | None = None) -> Decline:
    """A CloudPayments decline in billing's words, with the provider's CardHolderMessage as it gave it.
    Whether to retry is the provider's own advice (its never-retry list), which for some codes is more
    lenient than the category's policy (5054)."""
    return Decline(CATEGORIES.get(code, DeclineCategory.OTHER), code=code, reason=reason,
                   customer_message=customer_message(code), retry_allowed=retry_allowed(code),
                   card_holder_message=card_holder_message)
