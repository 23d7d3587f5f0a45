"""CloudPayments notifications as the provider adapter reads them (portal/providers/cloudpayments_notifications.py
through CloudPaymentsProvider): the signature over the raw bytes, and every field's documented form."""
import base64
import hashlib
import hmac
import json

import pytest

from portal.providers import CloudPaymentsProvider
from portal.providers.base import DeclineCategory, EventKind, InvalidNotification

SECRET = "rules-secret"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def provider():
    return CloudPaymentsProvider("pk_rules", SECRET, api_url="http://127.0.0.1:9")


def sign(body: bytes, secret=SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


BODY = b"TransactionId=77&Amount=299.00&Currency=RUB&InvoiceId=5&AccountId=ext-1"


@pytest.mark.parametrize("kind", ["Pay", "PAY", "pay"])
def test_the_kind_is_read_whatever_its_case(provider, kind):
    assert provider.parse_notification(kind, BODY, FORM).kind == "pay"


def pay(**overrides) -> bytes:
    fields = {"TransactionId": "77", "Amount": "299.00", "Currency": "RUB", "InvoiceId": "5", "AccountId": "ext-1"}
    fields.update(overrides)
    return "&".join(f"{k}={v}" for k, v in fields.items() if v is not None).encode()


def invalid(provider, kind, body, content_type=FORM) -> InvalidNotification:
    with pytest.raises(InvalidNotification) as caught:
        provider.parse_notification(kind, body, content_type)
    return caught.value


# The signature -------------------------------------------------------------------------------------------------

def test_a_body_signed_with_the_secret_is_accepted_under_any_spelling_of_the_header(provider):
    for name in ("Content-HMAC", "content-hmac", "CONTENT-HMAC"):
        assert provider.verify_notification(BODY, {"Content-Type": FORM, name: sign(BODY)}) is True
    # Whitespace around the value (a proxy's folding) does not matter.
    assert provider.verify_notification(BODY, {"Content-HMAC": f"  {sign(BODY)}\n"}) is True


@pytest.mark.parametrize("headers", [
    {},
    {"Content-Type": FORM},
    {"X-Content-HMAC": sign(BODY)},  # over the decoded form: never accepted
    {"Content-HMAC": sign(BODY, "another-secret")},
    {"Content-HMAC": sign(BODY + b"&Amount=1.00")},
    {"Content-HMAC": ""},
    {"Content-HMAC": "Ä" + sign(BODY)[1:]},  # not ASCII: refused, not an error
    {"Content-HMAC": sign(BODY)[:-2]},
], ids=["none", "other-headers", "x-content-hmac", "other-secret", "other-body", "empty", "non-ascii", "cut"])
def test_a_body_without_its_signature_is_refused(provider, headers):
    assert provider.verify_notification(BODY, headers) is False


# Kinds and keys -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [None, "", "payment", "checks"])
def test_an_unknown_kind_is_invalid(provider, kind):
    assert "unknown notification kind" in str(invalid(provider, kind, BODY))


def test_a_transaction_without_its_id_or_amount_is_invalid_with_the_id_when_there_is_one(provider):
    assert invalid(provider, "pay", pay(TransactionId=None)).transaction_id is None
    assert invalid(provider, "pay", pay(Amount=None)).transaction_id == "77"
    assert invalid(provider, "refund", pay(TransactionId="abc")).transaction_id is None


@pytest.mark.parametrize("amount,minor", [("0.01", 1), ("299.00", 29900), ("299", 29900), ("0.10", 10)])
def test_an_amount_becomes_exact_minor_units(provider, amount, minor):
    assert provider.parse_notification("pay", pay(Amount=amount), FORM).amount_minor == minor


@pytest.mark.parametrize("kind", ["pay", "check", "fail", "confirm", "refund"])
def test_a_transaction_of_nothing_is_invalid(provider, kind):
    error = invalid(provider, kind, pay(Amount="0.00"))
    assert "Amount is not positive" in str(error) and error.transaction_id == "77"


def test_a_recurrent_notification_describes_a_subscription_by_its_id_and_may_be_of_nothing(provider):
    body = b"Id=sc_8cf8a9338fb8ebf7202b08d09c938&AccountId=ext-1&Amount=0.00&Currency=RUB&Status=Active"
    notification = provider.parse_notification("recurrent", body, FORM)
    assert (notification.transaction_id, notification.amount_minor, notification.status) == (None, 0, "active")
    # A TransactionId on a Recurrent names no transaction of ours; neither Amount nor Id is required.
    quiet = provider.parse_notification("recurrent", b"TransactionId=77&AccountId=ext-1", FORM)
    assert (quiet.transaction_id, quiet.amount_minor, quiet.raw["AccountId"]) == (None, None, "ext-1")
    assert provider.parse_notification("recurrent", b"Id=" + b"a" * 64, FORM).raw["Id"] == "a" * 64


@pytest.mark.parametrize("subscription_id", ["sc 1", "sc!1", "a" * 65, "%D0%98"])
def test_a_recurrent_id_must_be_at_most_64_letters_digits_underscores_or_dashes(provider, subscription_id):
    assert "subscription id" in str(invalid(provider, "recurrent", f"Id={subscription_id}".encode()))


def test_the_id_of_a_transaction_is_not_checked_as_a_subscription_id(provider):
    assert provider.parse_notification("pay", pay(Id="not a subscription!"), FORM).transaction_id == "77"


# Fields -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("currency", ["usd", "RUBX", "RU", "12A"])
def test_a_currency_must_be_three_capital_letters(provider, currency):
    assert "Currency" in str(invalid(provider, "pay", pay(Currency=currency)))


def test_currency_and_token_are_read_when_present_and_none_when_absent(provider):
    notification = provider.parse_notification("pay", pay(Currency="USD", Token="tk_" + "a" * 253), FORM)
    assert (notification.currency, notification.token) == ("USD", "tk_" + "a" * 253)  # 256 characters
    bare = provider.parse_notification("pay", pay(Currency=None), FORM)
    assert (bare.currency, bare.token) == (None, None)


@pytest.mark.parametrize("token", ["tk_" + "a" * 254, "tk+with+space", "tk%C3%A4"])
def test_a_token_must_be_at_most_256_printable_ascii_characters(provider, token):
    assert "Token" in str(invalid(provider, "pay", pay(Token=token)))


def test_every_documented_field_is_read(provider):
    body = pay(Email="viewer%40example.com", Status="Completed", OperationType="Payment", Reason="Approved",
               ReasonCode="0", CardFirstSix="400000", CardLastFour="3055", CardType="Visa", CardExpDate="12%2F30",
               PaymentTransactionId="76", DateTime="2027-02-28+21%3A00%3A00", TestMode="1",
               Data="%7B%22plan%22%3A%22monthly%22%7D")
    n = provider.parse_notification("refund", body, FORM)
    assert (n.kind, n.transaction_id, n.amount_minor, n.currency, n.invoice_id, n.account_id, n.email) == (
        "refund", "77", 29900, "RUB", "5", "ext-1", "viewer@example.com")
    assert (n.status, n.operation_type, n.reason, n.reason_code) == ("completed", "payment", "Approved", 0)
    assert (n.card_first_six, n.card_last_four, n.card_type, n.card_exp) == ("400000", "3055", "Visa", "12/30")
    assert (n.payment_transaction_id, n.occurred_at.isoformat(), n.test_mode, n.data) == (
        "76", "2027-02-28T21:00:00+00:00", True, {"plan": "monthly"})
    assert n.raw["Email"] == "viewer@example.com"


@pytest.mark.parametrize("data,expected", [
    ("%7B%22a%22%3A1%7D", {"a": 1}),
    ("not+json", {}),
    ("%5B1%2C2%5D", {}),  # a list is no Data
    ("%5B" * 40 + "%5D" * 40, {}),  # nested too deep to read
])
def test_data_is_read_when_it_is_a_json_object_and_ignored_otherwise(provider, data, expected):
    assert provider.parse_notification("pay", pay(Data=data), FORM).data == expected


def test_json_data_is_read_under_its_other_name(provider):
    assert provider.parse_notification("pay", pay(JsonData="%7B%22a%22%3A2%7D"), FORM).data == {"a": 2}


# The body -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"", b"   \n", b"\t"])
def test_an_empty_body_is_invalid(provider, body):
    assert "empty" in str(invalid(provider, "pay", body))


def test_a_body_that_is_not_utf8_is_invalid(provider):
    assert "UTF-8" in str(invalid(provider, "pay", BODY + b"&Name=\xff\xfe"))


@pytest.mark.parametrize("body", [BODY + b"&garbage", BODY + b"&&"])
def test_a_body_that_is_not_form_encoded_is_invalid(provider, body):
    assert "form-encoded" in str(invalid(provider, "pay", body))


def test_a_form_of_200_fields_is_read_and_one_of_201_is_invalid(provider):
    extra = "".join(f"&F{n}=x" for n in range(195))
    assert provider.parse_notification("pay", BODY + extra.encode(), FORM).raw["F194"] == "x"  # 200 fields
    invalid(provider, "pay", BODY + extra.encode() + b"&F195=x")


@pytest.mark.parametrize("body", [
    BODY + b"&amount=1.00",
    BODY + b"&Email=&EMAIL=viewer%40example.com",  # a blank value is a field too
])
def test_a_field_given_twice_in_any_spelling_is_invalid(provider, body):
    assert "more than once" in str(invalid(provider, "pay", body))


@pytest.mark.parametrize("body", [BODY + b"&Na%00me=x", BODY + b"&Name=a%00b"])
def test_a_nul_character_in_a_key_or_a_value_is_invalid(provider, body):
    assert "NUL" in str(invalid(provider, "pay", body))


# JSON bodies --------------------------------------------------------------------------------------------------

JSON_FIELDS = '"TransactionId": 77, "Amount": "299.00", "Currency": "RUB", "InvoiceId": "5"'


@pytest.mark.parametrize("content_type", ["application/json", "APPLICATION/JSON; charset=utf-8"])
def test_a_json_body_is_read_when_the_content_type_says_json(provider, content_type):
    body = ("{" + JSON_FIELDS + ', "TestMode": true, "Email": null, "Data": {"plan": "yearly"}}').encode()
    n = provider.parse_notification("pay", body, content_type)
    assert (n.transaction_id, n.amount_minor, n.test_mode, n.email, n.data) == (
        "77", 29900, True, None, {"plan": "yearly"})
    assert (n.raw["TestMode"], n.raw["Email"], n.raw["TransactionId"]) == ("1", "", "77")


def test_json_values_become_the_text_a_form_would_carry(provider):
    body = ('{"TransactionId": 77, "Amount": 299.5, "TestMode": false, "Items": [1, "два"]}').encode()
    n = provider.parse_notification("pay", body, "application/json")
    assert (n.amount_minor, n.test_mode, n.raw["Amount"], n.raw["TestMode"], n.raw["Items"]) == (
        29950, False, "299.5", "0", '[1, "два"]')


@pytest.mark.parametrize("body,reason", [
    (b"[1, 2]", "not an object"),
    (b"{not json", "not valid JSON"),
    (('{' + JSON_FIELDS + ', "Name": "\\ud800"}').encode(), "lone surrogate"),
    (('{' + JSON_FIELDS + ', "\\udfff": "x"}').encode(), "lone surrogate"),
])
def test_a_json_body_that_is_no_notification_is_invalid(provider, body, reason):
    assert reason in str(invalid(provider, "pay", body, "application/json"))


def nested(depth: int) -> bytes:
    return ("{" + JSON_FIELDS + ', "Deep": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}").encode()


def test_json_nested_32_levels_is_read_and_33_is_invalid(provider):
    assert provider.parse_notification("pay", nested(32), "application/json").transaction_id == "77"
    assert "deeper than 32" in str(invalid(provider, "pay", nested(33), "application/json"))


def test_brackets_inside_json_strings_and_closed_siblings_do_not_count_as_depth(provider):
    inside = ("{" + JSON_FIELDS + ', "Name": "' + "[" * 40 + '", "Quote": "a\\"' + "{" * 40 + '"}').encode()
    assert provider.parse_notification("pay", inside, "application/json").raw["Name"] == "[" * 40
    siblings = ("{" + JSON_FIELDS + ', "A": ' + "[" * 20 + "]" * 20 + ', "B": ' + "[" * 20 + "]" * 20 + "}").encode()
    assert provider.parse_notification("pay", siblings, "application/json").transaction_id == "77"


def test_a_json_body_of_200_fields_is_read_and_one_of_201_is_invalid(provider):
    fields = {"TransactionId": 77, "Amount": "1.00", **{f"F{n}": n for n in range(198)}}
    assert provider.parse_notification("pay", json.dumps(fields).encode(), "application/json").raw["F197"] == "197"
    fields["F198"] = 198
    assert "more than 200" in str(invalid(provider, "pay", json.dumps(fields).encode(), "application/json"))


@pytest.mark.parametrize("body", [
    # An escaped quote does not end its string, and the string does end at its closing quote.
    '{"Name": "a\\"b", ' + JSON_FIELDS + ', "Deep": ' + "[" * 32 + "]" * 32 + "}",
    # An empty first key is a string like any other.
    '{"": "x", ' + JSON_FIELDS + ', "Deep": ' + "[" * 32 + "]" * 32 + "}",
    # A closed sibling before does not make room for more depth.
    "{" + JSON_FIELDS + ', "A": [], "Deep": ' + "[" * 32 + "]" * 32 + "}",
], ids=["escaped-quote", "empty-key", "closed-sibling"])
def test_json_nested_33_levels_is_invalid_whatever_comes_before(provider, body):
    assert "deeper than 32" in str(invalid(provider, "pay", body.encode(), "application/json"))


def test_data_nested_deeper_than_32_levels_is_ignored(provider):
    deep = "%7B%22a%22%3A" * 40 + "1" + "%7D" * 40  # {"a": {"a": ... 1 ...}}: an object, but 40 deep
    assert provider.parse_notification("pay", pay(Data=deep), FORM).data == {}


@pytest.mark.parametrize("kind,status,event", [
    ("pay", "Completed", EventKind.PAYMENT_SUCCEEDED),
    ("pay", "Authorized", EventKind.PAYMENT_AUTHORIZED),
    ("confirm", "Completed", EventKind.PAYMENT_SUCCEEDED),
    ("confirm", "Authorized", EventKind.PAYMENT_AUTHORIZED),
    ("check", "Authorized", EventKind.CHECK),
    ("fail", "Declined", EventKind.PAYMENT_FAILED),
    ("refund", "Completed", EventKind.REFUND_SUCCEEDED),
    ("cancel", "Cancelled", EventKind.PAYMENT_VOIDED),
])
def test_each_kind_becomes_its_neutral_event(provider, kind, status, event):
    assert provider.parse_notification(kind, pay(Status=status), FORM).event == event


def test_a_recurrent_notification_is_informational(provider):
    assert provider.parse_notification("recurrent", b"Id=sc_1&Status=Active", FORM).event == EventKind.INFORMATIONAL


def test_only_a_fail_carries_a_decline_in_neutral_words(provider):
    failed = provider.parse_notification("fail", pay(Status="Declined", ReasonCode="5051", Reason="InsufficientFunds"),
                                         FORM)
    assert (failed.decline.category, failed.decline.code) == (DeclineCategory.INSUFFICIENT_FUNDS, 5051)
    assert provider.parse_notification("pay", pay(ReasonCode="5051"), FORM).decline is None


def test_a_card_is_saved_only_from_a_notification_with_a_token(provider):
    saved = provider.parse_notification("pay", pay(Token="tk_abc", CardFirstSix="400000", CardLastFour="3055",
                                                   CardExpDate="12%2F30", CardType="Visa"), FORM)
    assert (saved.card.token, saved.card.first_six, saved.card.last_four, saved.card.exp, saved.card.card_type) == (
        "tk_abc", "400000", "3055", "12/30", "Visa")
    assert provider.parse_notification("pay", pay(CardLastFour="3055"), FORM).card is None
