"""Hostile and malformed provider notifications at the webhook, over real HTTP on PostgreSQL: each is
answered with a clean 4xx (or stored and marked failed), and the database holds what staff should see."""
import base64
import hashlib
import hmac
import os
from datetime import timedelta
from urllib.parse import unquote_plus, urlencode

import pytest
import requests
from sqlalchemy import select, text

from portal import clock
from portal.billing import notifications
from portal.billing.errors import NotYetKnown
from portal.extensions import db
from portal.models import Invoice, Payment, WebhookEvent
from portal.queue import billing_queue
from tests.conftest import SANDBOX_SECRET
from tests.factories import make_customer, make_plan
from tests.flows.test_notifications import form, pay_fields, post, signed
from workers import ticks


def hmac_b64(message: bytes) -> str:
    return base64.b64encode(hmac.new(SANDBOX_SECRET.encode(), message, hashlib.sha256).digest()).decode()


@pytest.fixture
def open_invoice(billing):
    make_plan(code="monthly", amount=29900)
    sub, invoice, _ = billing.checkout(make_customer(), "monthly")
    return invoice


def events():
    db.session.expire_all()
    return db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()


# --- finding 4: the signature covers the bytes the parser reads -------------------------------------------------


def test_a_decoded_form_signature_cannot_smuggle_another_invoice_into_a_re_encoded_body(billing, live,
                                                                                         open_invoice):
    """Signed (X-Content-HMAC, decoded form) for invoice 888888 with `x&InvoiceId=<ours>&…` inside Name,
    then re-sent with %26/%3D decoded in the raw body and no Content-HMAC: both bodies decode to the same
    text, but the parser reads InvoiceId=<ours> from the second. It must be refused, our invoice unpaid."""
    smuggled = (f"x&InvoiceId={open_invoice.id}&AccountId={open_invoice.customer.external_id}"
                "&Amount=299.00&Currency=RUB")
    honest = form(pay_fields(open_invoice, 7770041, InvoiceId="888888", Name=smuggled)).decode()
    resent = honest.replace("%26", "&").replace("%3d", "=")
    assert unquote_plus(resent) == unquote_plus(honest)  # what X-Content-HMAC signs is the same
    headers = {"X-Content-HMAC": hmac_b64(unquote_plus(honest).encode()),
               "Content-Type": "application/x-www-form-urlencoded"}
    response = post(live, "pay", resent.encode(), headers)
    assert response.status_code == 401 and response.json()["code"] != 0
    billing.work()
    db.session.expire_all()
    assert db.session.get(Invoice, open_invoice.id).status == "open"
    assert db.session.scalars(select(Payment)).all() == []
    [event] = events()
    assert (event.status, event.rejection) == ("rejected", "signature missing or invalid")


# --- finding 5: strict parsing; every key whole; nothing retried forever ----------------------------------------


def test_transaction_ids_that_differ_after_64_characters_are_both_refused_never_cut_into_one(billing, live,
                                                                                            open_invoice):
    answers = []
    for transaction_id in ("1" * 64 + "A", "1" * 64 + "B"):
        body = form(pay_fields(open_invoice, transaction_id))
        answers.append(post(live, "pay", body, signed(body)))
    assert [a.status_code for a in answers] == [400, 400]
    assert all(a.json()["code"] != 0 and "TransactionId" in a.json()["message"] for a in answers)
    billing.work()
    [refused] = events()  # both refusals, counted on one row
    assert (refused.status, refused.transaction_id, refused.rejected_count) == ("rejected", None, 2)
    assert refused.rejection == "unreadable" and "TransactionId" in refused.error
    assert db.session.get(Invoice, open_invoice.id).status == "open"


@pytest.mark.parametrize("amount", ["-1.00", "-299.00", "0.00", "1e308", "99999999999999999999999.00", "1e3",
                                    "1_000", "２９９.00", " 299.00", "299.00 ", "299.001", "NaN", "0x12B"])
def test_a_signed_pay_with_a_malformed_amount_is_stored_failed_with_its_reason_and_settles_nothing(
        billing, live, open_invoice, amount):
    body = form(pay_fields(open_invoice, 7770100, Amount=amount))
    response = post(live, "pay", body, signed(body))
    assert (response.status_code, response.json()) == (200, {"code": 0})  # stored under its own key
    billing.work()
    [event] = events()
    assert (event.status, event.transaction_id, event.attempts) == ("failed", "7770100", 0)
    assert "Amount" in event.error or "amount" in event.error
    assert db.session.get(Invoice, open_invoice.id).status == "open"
    assert db.session.scalars(select(Payment)).all() == []
    billing.assert_no_failed_jobs()


def test_a_repeat_of_a_failed_notification_is_acknowledged_and_kept_once(billing, live, open_invoice):
    body = form(pay_fields(open_invoice, 7770101, Amount="-1.00"))
    answers = [post(live, "pay", body, signed(body)).json() for _ in range(3)]
    assert answers == [{"code": 0}] * 3
    assert [e.status for e in events()] == ["failed"]


@pytest.mark.parametrize(("kind", "overrides"), [
    ("fail", {"ReasonCode": "9" * 30, "Reason": "Declined"}),
    ("refund", {"Amount": "-1.00", "PaymentTransactionId": "7770000", "OperationType": "Refund"}),
    ("refund", {"Amount": "0.00", "PaymentTransactionId": "7770000", "OperationType": "Refund"}),
    ("pay", {"Currency": "RUBX"}),
    ("pay", {"Currency": "rub"}),
    ("pay", {"Token": "t" * 300}),
    ("refund", {"PaymentTransactionId": "1" * 64 + "A", "OperationType": "Refund"}),
], ids=["30-digit-reason-code", "refund-negative", "refund-zero", "currency-4-letters", "currency-lowercase",
        "token-300-chars", "refund-of-a-cut-key"])
def test_signed_notifications_no_column_can_hold_are_failed_at_once_not_poison_rows(billing, live, open_invoice,
                                                                                     kind, overrides):
    body = form(pay_fields(open_invoice, 7770200, **overrides))
    response = post(live, kind, body, signed(body))
    assert (response.status_code, response.json()) == (200, {"code": 0})
    billing.work()
    [event] = events()
    assert event.status == "failed" and event.error.startswith("InvalidNotification")
    assert db.session.scalars(select(Payment)).all() == []
    billing.assert_no_failed_jobs()


def test_a_pay_that_is_no_success_is_marked_failed_after_one_try_not_retried_forever(billing, live, open_invoice):
    body = form(pay_fields(open_invoice, 7770300, Status="Declined"))
    assert post(live, "pay", body, signed(body)).json() == {"code": 0}
    billing.work()
    [event] = events()
    assert (event.status, event.attempts) == ("failed", 1)
    assert "Declined" in event.error or "declined" in event.error
    clock.advance(timedelta(minutes=10))
    assert ticks.inbox_sweeper() == 0  # nothing left for the sweeper to retry
    assert db.session.get(Invoice, open_invoice.id).status == "open"


def test_a_notification_that_keeps_failing_is_marked_failed_after_a_bounded_number_of_tries_then_replayed(
        billing, live, open_invoice):
    """A Refund of a payment we never heard of: retried (it may be out of order), then failed for staff,
    and once the payment is known (the fix), replayed to success."""
    refund = form({"TransactionId": 7770401, "PaymentTransactionId": 7770400, "Amount": "299.00",
                   "OperationType": "Refund", "DateTime": "2026-11-29 10:05:00"})
    assert post(live, "refund", refund, signed(refund)).json() == {"code": 0}
    [event] = events()
    for _ in range(notifications.MAX_ATTEMPTS + 3):  # the job's retries and the sweeper's rounds
        try:
            notifications.process(event.id)
        except NotYetKnown:
            pass
    [event] = events()
    assert (event.status, event.attempts) == ("failed", notifications.MAX_ATTEMPTS)
    assert "not recorded yet" in event.error
    billing_queue().empty()

    pay = form(pay_fields(open_invoice, 7770400))
    assert post(live, "pay", pay, signed(pay)).json() == {"code": 0}
    billing.work()
    assert notifications.replay(event.id) == "processed"
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.amount_refunded == 29900


# --- finding 6: no 500 from any input ---------------------------------------------------------------------------


def test_a_check_naming_an_invoice_of_thirty_nines_is_answered_unknown_invoice(billing, live, open_invoice):
    fields = pay_fields(open_invoice, 7770500, InvoiceId="9" * 30)
    fields.pop("Token")
    body = form(fields)
    response = post(live, "check", body, signed(body))
    assert (response.status_code, response.json()) == (200, {"code": 10})


def test_a_pay_naming_an_invoice_beyond_the_id_column_is_recorded_for_review_not_a_poison_row(billing, live,
                                                                                             open_invoice):
    body = form(pay_fields(open_invoice, 7770501, InvoiceId=str(2**40)))
    assert post(live, "pay", body, signed(body)).json() == {"code": 0}
    billing.work()
    billing.assert_no_failed_jobs()
    [event] = events()
    assert event.status == "processed"
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.invoice_id, payment.needs_review) == (None, True)


JSON = "application/json"


def signed_as(body: bytes, content_type: str) -> dict:
    return {**signed(body), "Content-Type": content_type}


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"TransactionId": 7770600, "Amount": "299.00", "Data": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON),
    (b'{"TransactionId": 7770601, "Amount": "299.00", "Name": "\\ud800"}', JSON),
    (b'{"TransactionId": 7770602, "Amount": "299.00", "Name": "\\udfff\\ud800"}', JSON),
    (b"TransactionId=7770603&Amount=299.00&Name=%ff%fe", "application/x-www-form-urlencoded"),
    (b"TransactionId=7770604&Amount=299.00&Name=\xff\xfe", "application/x-www-form-urlencoded"),
    (b"TransactionId=7770605&Amount=299.00&Name=%ed%a0%80", "application/x-www-form-urlencoded"),
    (b"TransactionId=7770606&Amount=299.00&Description=a%00b", "application/x-www-form-urlencoded"),
    (b'{"TransactionId": 7770607, "Amount": "299.00", "Description": "a\\u0000b"}', JSON),
    (b"TransactionId=7770608&transactionid=7770609&Amount=299.00", "application/x-www-form-urlencoded"),
], ids=["json-5000-deep", "json-lone-surrogate", "json-reversed-surrogates", "form-invalid-utf8-escaped",
        "form-invalid-utf8-raw", "form-encoded-surrogate", "form-nul-byte", "json-nul-byte", "duplicate-key"])
def test_bodies_no_parser_or_column_can_take_are_answered_400_and_recorded(billing, live, body, content_type):
    response = post(live, "pay", body, signed_as(body, content_type))
    assert response.status_code == 400 and response.json()["code"] != 0
    billing.work()
    [event] = events()
    assert event.status == "rejected" and event.rejection.startswith("unreadable")


def test_display_fields_too_long_for_their_columns_do_not_cost_the_payment(billing, live, open_invoice):
    body = form(pay_fields(open_invoice, 7770700, CardFirstSix="4000001234", CardLastFour="30555",
                           CardType="V" * 100, CardExpDate="12/2030"))
    assert post(live, "pay", body, signed(body)).json() == {"code": 0}
    billing.work()
    billing.assert_no_failed_jobs()
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.status, payment.card_first_six, payment.card_last_four, payment.card_type) == (
        "completed", None, None, None)
    assert db.session.get(Invoice, open_invoice.id).status == "paid"


# --- finding 1: bounded requests, bounded records of refused ones -----------------------------------------------


def table_bytes():
    return db.session.execute(text("SELECT pg_total_relation_size('webhook_events')")).scalar()


def test_a_ten_megabyte_unsigned_post_is_refused_413_unread_and_recorded_by_its_length_only(billing, live):
    response = post(live, "pay", b"x=" + b"a" * 10_000_000, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and response.json()["code"] != 0
    [event] = events()
    assert (event.status, event.rejection, event.body_length) == ("rejected", "too large", 10_000_002)
    assert event.body == b""


def test_a_notification_one_byte_over_the_limit_is_refused_even_when_signed(billing, live, open_invoice):
    body = form(pay_fields(open_invoice, 7770800, Description="x"))
    body += b"&Name=" + b"n" * (notifications.MAX_NOTIFICATION_BYTES - len(body) - 5)
    assert len(body) == notifications.MAX_NOTIFICATION_BYTES + 1
    assert post(live, "pay", body, signed(body)).status_code == 413
    assert db.session.get(Invoice, open_invoice.id).status == "open"


def test_a_refused_post_keeps_a_prefix_its_length_and_sha256_never_the_whole_body(billing, live):
    body = b"x=" + b"b" * 60_000
    assert post(live, "pay", body, {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    [event] = events()
    assert event.body == body[:notifications.REJECTED_BODY_PREFIX]
    assert (event.body_length, event.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())


def test_a_flood_of_refused_posts_is_counted_on_one_row_per_address_and_reason_and_barely_grows_the_table(
        billing, live):
    before = table_bytes()
    for _ in range(40):
        body = b"x=" + base64.b64encode(os.urandom(45_000))  # 60 KB that no compression shrinks
        assert post(live, "pay", body, {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    for _ in range(10):
        assert post(live, "fail", b"x=1", {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    counted = {(e.kind, e.rejection): e.rejected_count for e in events()}
    assert counted == {("pay", "signature missing or invalid"): 40, ("fail", "signature missing or invalid"): 10}
    # 40 x 60 KB posted; what is kept is a prefix each time (old row versions until VACUUM included).
    assert table_bytes() - before < 1024 * 1024


def test_the_next_minute_starts_a_new_counted_row(billing, live):
    post(live, "pay", b"x=1", {})
    clock.advance(timedelta(minutes=1))
    post(live, "pay", b"x=1", {})
    assert [e.rejected_count for e in events()] == [1, 1]


def test_the_whole_app_refuses_bodies_over_a_megabyte_with_413(billing, live):
    response = requests.post(f"{live.portal_url}/login", data={"email": "a" * (2 * 1024 * 1024)}, timeout=20)
    assert response.status_code == 413


# --- finding 3: card tokens never in clear ----------------------------------------------------------------------

TOKEN = "tk_0123456789abcdef_secret"


def raw_columns():
    """What a database dump would show, read past the models' decryption."""
    db.session.expire_all()
    rows = db.session.execute(text("SELECT body::text FROM webhook_events UNION ALL SELECT raw FROM payments "
                                   "UNION ALL SELECT coalesce(error, '') FROM webhook_events "
                                   "UNION ALL SELECT token FROM payment_methods")).scalars().all()
    return " ".join(row or "" for row in rows) + " " + " ".join(
        bytes(b).decode("latin-1") for b in db.session.execute(text("SELECT body FROM webhook_events")).scalars())


def test_the_card_token_is_stored_encrypted_in_the_inbox_and_the_payment_and_still_saves_the_card(billing, live,
                                                                                                 open_invoice):
    body = form(pay_fields(open_invoice, 7770900, Token=TOKEN))
    assert post(live, "pay", body, signed(body)).json() == {"code": 0}
    billing.work()
    [event] = events()
    [payment] = db.session.scalars(select(Payment)).all()
    assert event.body == body and payment.raw["Token"] == TOKEN  # readable through the models
    assert db.session.get(Invoice, open_invoice.id).status == "paid"
    assert db.session.execute(text("SELECT count(*) FROM payment_methods")).scalar() == 1
    dump = raw_columns()
    assert "TransactionId" not in dump and TOKEN not in dump


def test_refused_posts_are_encrypted_too(billing, live, open_invoice):
    body = form(pay_fields(open_invoice, 7770901, Token=TOKEN))
    assert post(live, "pay", body, {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    assert TOKEN not in raw_columns()


def test_sql_errors_carry_no_parameters_into_error_texts(app):
    from sqlalchemy.exc import IntegrityError

    db.session.add(Payment(provider="sandbox", provider_transaction_id="1", amount=-1, currency="RUB",
                           raw={"Token": TOKEN}))
    with pytest.raises(IntegrityError) as caught:
        db.session.flush()
    db.session.rollback()
    assert TOKEN not in str(caught.value) and TOKEN not in notifications.describe_error(caught.value)
    assert "amount_not_negative" in notifications.describe_error(caught.value)


def test_a_signed_get_notification_is_applied_and_its_query_string_stays_out_of_the_access_log(
        billing, live, open_invoice, caplog):
    query = urlencode(pay_fields(open_invoice, 7770902, Token=TOKEN)).encode()  # upper-case hex, as urllib3 sends
    with caplog.at_level("INFO", logger="werkzeug"):
        response = requests.get(f"{live.portal_url}/webhooks/cloudpayments/pay?{query.decode()}",
                                headers={"Content-HMAC": hmac_b64(query)}, timeout=10)
        assert response.json() == {"code": 0}
        billing.work()
    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug" and "/webhooks/" in r.getMessage()]
    assert access and all(TOKEN not in line and "TransactionId" not in line for line in access)
    assert db.session.get(Invoice, open_invoice.id).status == "paid"
    assert TOKEN not in raw_columns()
