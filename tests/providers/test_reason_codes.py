"""The decline reason table: customer wording and the provider's retry advice."""
import pytest

from portal.providers import reason_codes

NAMED_IN_CONTRACT = [5051, 5054, 5005, 5014, 5041, 5043, 5057, 5082, 5091, 5096, 5204, 5206]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (5051, "Insufficient funds"),
        (5054, "Card expired"),
        (5014, "Invalid card number"),
        (5082, "Incorrect CVV code"),
        (5206, "3-D Secure verification failed"),
    ],
)
def test_customer_message_says_what_happened(code, message):
    assert reason_codes.customer_message(code) == message


@pytest.mark.parametrize("code", NAMED_IN_CONTRACT)
def test_every_code_named_by_the_provider_has_its_own_message(code):
    assert reason_codes.customer_message(code) != reason_codes.DEFAULT_CUSTOMER_MESSAGE
    assert reason_codes.reason_name(code)


@pytest.mark.parametrize("code", [None, 0, 4999, 9999])
def test_unknown_code_gets_the_generic_message(code):
    assert reason_codes.customer_message(code) == reason_codes.DEFAULT_CUSTOMER_MESSAGE


@pytest.mark.parametrize("code", [5001, 5003, 5005, 5012, 5017, 5033, 5034, 5057])
def test_provider_never_retry_codes_are_not_retried(code):
    assert reason_codes.retry_allowed(code) is False


@pytest.mark.parametrize("code", [5051, 5054, 5091, 5096, 5204, None])
def test_other_declines_may_be_retried(code):
    assert reason_codes.retry_allowed(code) is True


@pytest.mark.parametrize(
    ("code", "blocks"),
    [(5013, True), (5014, True), (5030, True), (5051, True), (5054, True), (5055, True), (5063, True),
     (5065, True), (5096, True), (5005, False), (5204, False), (None, False)],
)
def test_two_failures_block_the_card_for_a_day(code, blocks):
    assert reason_codes.blocks_after_two_failures(code) is blocks
