"""Billing mails from domain events: built by a job after the commit, one per event and customer whatever runs
twice, in the customer's language and time zone, with the seller's name and support address and no card data
beyond the last four digits; delivered over real SMTP to the test server."""
from datetime import timedelta

import requests
from sqlalchemy import update

from portal import clock
from portal.billing.checkout import start_checkout, widget_parameters
from portal.billing.provider_choice import set_default_provider
from portal.bus.relay import relay_once
from portal.extensions import db
from portal.mail.delivery import deliver
from portal.mail.events import build_event_mails
from portal.models import OutboxMessage, User
from tests.factories import make_customer, make_plan
from tests.flows.providers import YooKassaDriver
from tests.mail.support import by_subject, declined_renewal, paid_subscription, renewal_invoice, stored_mails
from tests.mailbox import html_of, link_to, text_of
from workers import ticks


def english_customer(email="anna@example.com", zone="Asia/Vladivostok"):
    customer = make_customer(email)
    customer.locale, customer.time_zone = "en", zone
    db.session.commit()
    return customer


def test_a_payment_mails_one_receipt_even_when_the_event_is_relayed_and_its_mails_built_twice(billing, mailbox,
                                                                                            topology):
    sub = paid_subscription(billing)
    [receipt] = mailbox.wait_for(sub.customer.email)
    assert receipt["Subject"] == "Оплата получена"

    # The bus relays the events twice (a relay died before marking them), the dispatcher finds them again
    # (as if its marks were lost) and every delivery job runs a second time.
    for _ in range(2):
        assert relay_once(batch_size=100) > 0
        db.session.execute(update(OutboxMessage).values(published_at=None, mailed_at=None))
        db.session.commit()
        assert build_event_mails() > 0
    for mail in stored_mails():
        assert deliver(mail.id) == "sent"
    billing.work()

    [stored] = stored_mails("payment_receipt")
    assert stored.user_id == sub.customer_id and stored.status == "sent"
    assert len(mailbox.messages(sub.customer.email)) == 1


def test_a_receipt_reads_in_english_in_the_customers_time_zone_with_the_last_four_digits_only(billing, mailbox):
    clock.freeze(clock.now().replace(hour=20, minute=30))  # 20:30 UTC is the next morning in Vladivostok
    customer = english_customer()
    sub = paid_subscription(billing, customer=customer)
    [receipt] = mailbox.wait_for(customer.email)

    text = text_of(receipt)
    local_day = (sub.current_period_start + timedelta(hours=10)).strftime("%B %-d, %Y")
    assert receipt["Subject"] == "Payment received" and receipt["Content-Language"] == "en"
    assert "Thank you! We received your payment for the Monthly subscription." in text
    assert "Amount: RUB 299.00" in text
    assert f"Paid on: {local_day}" in text
    assert "Card: •••• 3055" in text and "400000" not in text and "4000 00" not in text
    assert f"Invoice: No. {sub.invoices[0].number}" in text
    assert link_to(receipt, "/account/payments/").startswith(billing.live.portal_url)
    assert "Cinema · Questions? Write to billing@cinema.test." in text
    assert "RUB 299.00" in html_of(receipt) and "•••• 3055" in html_of(receipt)


def test_a_russian_customer_reads_the_receipt_in_russian_on_moscow_time(billing, mailbox):
    clock.freeze(clock.now().replace(hour=22, minute=0))  # 22:00 UTC is 01:00 the next day in Moscow
    make_plan("monthly", name_ru="Месячная", name_en="Monthly")
    sub = paid_subscription(billing)
    [receipt] = mailbox.wait_for(sub.customer.email)
    text = text_of(receipt)
    assert receipt["Content-Language"] == "ru"
    assert "Спасибо! Мы получили оплату подписки Месячная." in text and "Monthly" not in text
    [invoice] = sub.invoices
    assert f"Счёт: № {invoice.number}" in text and invoice.number.endswith("-000001")
    assert "Сумма: 299,00\xa0₽" in text
    moscow_day = (sub.current_period_start + timedelta(hours=3)).day
    assert f"Дата оплаты: {moscow_day} " in text
    assert "Карта: •••• 3055" in text


def test_a_failed_renewal_says_why_when_it_retries_and_links_to_that_invoices_payment(billing, mailbox):
    customer = english_customer(zone="Europe/London")
    sub = declined_renewal(billing, customer)
    billing.work()

    renewal = renewal_invoice(sub.id)
    retry = renewal.next_attempt_at
    [failed] = mailbox.wait_for(customer.email, count=2)[1:]
    text = text_of(failed)
    assert failed["Subject"] == "Your payment did not go through"
    assert "We could not charge RUB 299.00 for your Monthly subscription." in text
    assert "Your bank's answer: Insufficient funds." in text
    # CloudPayments' CardHolderMessage of the decline, quoted as the provider gave it.
    assert "The payment system's message for you: “Недостаточно средств на карте”" in text
    assert "Недостаточно средств на карте" in html_of(failed)
    assert f"We will try again on {retry:%B} {retry.day}, {retry.year}, {retry:%H:%M} (GMT+00:00). " \
           "You can keep watching meanwhile." in text
    assert "last try" not in text
    assert "Card: •••• 1111" in text
    assert "/mail/pay/" in link_to(failed, "/mail/pay/")
    [stored] = stored_mails("payment_failed")
    assert stored.subject_key == f"invoice:{renewal.id}:attempt:1:user:{customer.id}"  # decline + past due: one


def test_a_failed_renewal_in_russian_quotes_the_providers_message_for_the_card_holder(billing, mailbox):
    customer = make_customer("olga@example.com")
    sub = declined_renewal(billing, customer)
    billing.work()
    [failed] = [m for m in mailbox.wait_for(customer.email, count=2) if m["Subject"] == "Платёж не прошёл"]
    text = text_of(failed)
    # Here the provider's words are those of the bank's answer in Russian: said once, not twice.
    assert "Ответ банка: Недостаточно средств на карте." in text and text.count("Недостаточно средств") == 1
    [declined] = [p for p in renewal_invoice(sub.id).payments if p.status == "declined"]
    assert declined.card_holder_message == "Недостаточно средств на карте"


def test_the_mail_before_the_last_retry_says_when_access_ends(billing, mailbox):
    customer = english_customer(zone="UTC")
    sub = declined_renewal(billing, customer)
    renewal = renewal_invoice(sub.id)
    for day in (1, 3):
        clock.freeze(renewal.dunning_ends_at - timedelta(days=5) + timedelta(days=day, minutes=1))
        ticks.dunning()
        billing.work()
    billing.work()

    failures = by_subject(mailbox, customer.email, "Your payment did not go through")
    assert len(failures) == 3
    last = text_of(failures[-1])
    ends = renewal_invoice(sub.id).dunning_ends_at
    assert f"This is the last try: if it fails, your access ends then, on {ends:%B} {ends.day}, {ends.year}." in last
    assert all("last try" not in text_of(m) for m in failures[:-1])

    clock.freeze(ends + timedelta(minutes=1))
    ticks.dunning()
    billing.work()
    billing.work()
    [ended] = mailbox.wait_for(customer.email, count=5)[4:]
    assert ended["Subject"] == "Your subscription has ended"
    assert "the renewal payment did not go through and the retries ran out" in text_of(ended)


def test_a_customer_the_platform_mails_itself_gets_no_billing_mail(billing, mailbox):
    customer = make_customer()
    customer.billing_mail = False
    db.session.commit()
    paid_subscription(billing, customer=customer)
    billing.work()
    assert stored_mails() == [] and mailbox.messages(customer.email) == []
    assert db.session.get(User, customer.id).billing_mail is False


def test_a_renewal_declined_at_yookassa_says_its_cancellation_reason_in_the_customers_language(billing, mailbox):
    yookassa = YooKassaDriver(billing.live)
    yookassa.reset()
    set_default_provider("RUB", "yookassa", actor="staff:test")
    db.session.commit()
    make_plan(code="monthly", amount=29900)
    readers = {"en": english_customer("yk.anna@example.com", zone="UTC"), "ru": make_customer("yk.olga@example.com")}
    subs = {}
    for locale, customer in readers.items():
        sub, invoice = start_checkout(customer, "monthly")
        params = widget_parameters(invoice)
        db.session.commit()
        assert yookassa.pay(params) is True
        subs[locale] = sub
    billing.work()
    # YooKassa cancels both renewal charges with cancellation_details.reason = issuer_unavailable.
    requests.post(f"{billing.live.yookassa_url}/_control/decline_next", json={"reason": "issuer_unavailable",
                                                                               "count": 2}, timeout=10)
    clock.freeze(max(s.current_period_end for s in subs.values()) + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.work()

    [english] = by_subject(mailbox, readers["en"].email, "Your payment did not go through")
    assert "Your bank's answer: Your bank did not answer in time. Please try again later." in text_of(english)
    assert "payment system's message" not in text_of(english)  # YooKassa words nothing for the card holder
    [russian] = by_subject(mailbox, readers["ru"].email, "Платёж не прошёл")
    assert "Ответ банка: Банк не ответил вовремя. Попробуйте позже." in text_of(russian)
    declined = [p for s in subs.values() for p in renewal_invoice(s.id).payments if p.status == "declined"]
    assert [(p.provider, p.reason, p.card_holder_message) for p in declined] == [
        ("yookassa", "issuer_unavailable", None)] * 2
