"""Reminders from the cron tick: a trial ending in 3 days, a yearly renewal in 7, a card expiring before the
renewal; once per period, never for a subscription set to end, only while the customer keeps them on, with a
List-Unsubscribe link that turns them off in one click."""
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.mail.reminders import reminders_due
from portal.models import OutboxMessage, PaymentMethod, Plan, Subscription, User
from tests.auth.helpers import csrf_token, sign_in
from tests.dates import english_day
from tests.factories import make_plan, make_subscription
from tests.mail.support import stored_mails
from tests.mailbox import run_jobs, text_of


def with_card(sub, exp="12/40", last_four="4242"):
    card = PaymentMethod.for_token(f"tok-{sub.id}-{exp}", user_id=sub.customer_id, provider="cloudpayments",
                                   card_last_four=last_four, card_exp=exp, card_first_six="424242")
    db.session.add(card)
    db.session.flush()
    sub.payment_method_id = card.id
    db.session.commit()
    return sub


def english(sub):
    sub.customer.locale, sub.customer.time_zone = "en", "Europe/Berlin"
    db.session.commit()
    return sub


def trial_ending_in(days, **kwargs):
    plan = make_plan(amount=49900, trial_days=7)
    return with_card(make_subscription(status="trialing", plan=plan, period_days=days, **kwargs))


def reminder_events():
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage.routing_key).where(
        OutboxMessage.routing_key.in_(("subscription.trial_ending", "subscription.renewal_upcoming",
                                       "subscription.card_expiring"))).order_by(OutboxMessage.id)).all()


def test_a_trial_ending_in_three_days_is_reminded_once_with_what_will_be_charged_and_when(app, mailbox):
    sub = english(trial_ending_in(3))
    assert reminders_due() == 1
    assert reminders_due() == 0  # the next tick, and the one after, find this period done
    run_jobs()
    run_jobs()

    [mail] = mailbox.wait_for(sub.customer.email)
    text = text_of(mail)
    assert mail["Subject"] == "Your free trial ends in 3 days"
    # The day in the customer's zone (Berlin): after 23:00 UTC that is already tomorrow.
    assert f"Your free trial of Plan ends on {english_day(sub.current_period_end, ZoneInfo('Europe/Berlin'))}." in text
    assert "Then we charge RUB 499.00 to your saved card" in text and "Card: •••• 4242" in text
    assert reminder_events() == ["subscription.trial_ending"]
    assert mail["List-Unsubscribe"].startswith(f"<{app.config['PUBLIC_URL']}/mail/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_trial_further_away_or_set_to_end_gets_no_reminder(app, mailbox):
    trial_ending_in(5)
    ending = trial_ending_in(2)
    ending.cancel_at_period_end = True
    db.session.commit()
    assert reminders_due() == 0 and reminder_events() == []


def test_a_yearly_renewal_is_reminded_seven_days_before_once_per_period(app, mailbox):
    plan = make_plan(code="yearly", amount=299000, interval_unit="year")
    sub = with_card(make_subscription(status="active", plan=plan, period_days=7))
    monthly = with_card(make_subscription(status="active", period_days=6))  # monthly plans get no such reminder
    assert reminders_due() == 1
    run_jobs()
    [mail] = mailbox.wait_for(sub.customer.email)
    assert mail["Subject"] == "Годовая подписка продлится через 7 дней"
    assert "Мы спишем 2\xa0990,00\xa0₽ с сохранённой карты." in text_of(mail)
    assert mailbox.messages(monthly.customer.email) == []

    # The next year's period is reminded again, once.
    sub = db.session.get(Subscription, sub.id)
    sub.current_period_start, sub.current_period_end = sub.current_period_end, sub.current_period_end + timedelta(
        days=365)
    db.session.commit()
    clock.freeze(sub.current_period_end - timedelta(days=6))
    assert reminders_due() == 1 and reminders_due() == 0
    run_jobs()
    assert len(mailbox.wait_for(sub.customer.email, count=2)) == 2
    assert len(stored_mails("renewal_upcoming")) == 2


def test_a_card_expiring_before_the_renewal_is_mentioned_once_a_period(app, mailbox):
    sub = make_subscription(status="active", period_days=20)
    expiry = sub.current_period_end - timedelta(days=40)
    english(with_card(sub, exp=f"{expiry:%m/%y}", last_four="0005"))
    fine = with_card(make_subscription(status="active", period_days=20), exp="12/40")
    assert reminders_due() == 1 and reminders_due() == 0
    run_jobs()
    [mail] = mailbox.wait_for(sub.customer.email)
    text = text_of(mail)
    assert mail["Subject"] == "Your card expires before the next payment"
    assert "The card ending in 0005 that pays for Plan expires before the next payment" in text
    assert "424242" not in text and f"Expires: {expiry:%m/%y}" in text
    assert mailbox.messages(fine.customer.email) == []


def test_reminders_turned_off_on_the_account_page_are_not_sent_but_receipts_would_be(app, client, mailbox):
    sub = trial_ending_in(2)
    sign_in(client, sub.customer.email, "correct horse")
    page = client.get("/account").get_data(as_text=True)
    assert 'id="mail-preferences"' in page and 'name="reminders" value="on" checked' in page
    response = client.post("/account/mail-preferences", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 303
    assert db.session.get(User, sub.customer_id).reminder_mails is False

    assert reminders_due() == 1  # the event is written for the bus; the customer's mail is not
    run_jobs()
    assert stored_mails() == [] and mailbox.messages(sub.customer.email) == []


def test_the_one_click_unsubscribe_link_turns_reminders_off_and_opening_it_only_asks(app, client, mailbox):
    sub = trial_ending_in(3)
    reminders_due()
    run_jobs()
    [mail] = mailbox.wait_for(sub.customer.email)
    url = mail["List-Unsubscribe"].strip("<>")
    path = url.removeprefix(app.config["PUBLIC_URL"])
    assert path.startswith("/mail/unsubscribe/")

    asked = client.get(path)
    assert asked.status_code == 200 and 'id="confirm-unsubscribe"' in asked.get_data(as_text=True)
    assert db.session.get(User, sub.customer_id).reminder_mails is True  # a mail scanner's GET changes nothing

    done = client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, sub.customer_id).reminder_mails is False
    assert client.post(path[:-3] + "xyz").status_code == 400  # a forged or cut link changes nothing


def test_a_reminder_for_a_customer_no_longer_due_when_its_mail_is_built_is_not_sent(app, mailbox):
    sub = trial_ending_in(3)
    reminders_due()
    sub = db.session.get(Subscription, sub.id)
    sub.cancel_at_period_end = True  # auto-renew turned off between the tick and the mail job
    db.session.commit()
    run_jobs()
    assert stored_mails() == []


def test_the_seller_s_name_and_support_address_come_from_the_settings_and_replies_go_to_support(app, mailbox):
    saved = {k: app.config.get(k) for k in ("SELLER_NAME", "SUPPORT_EMAIL")}
    app.config.update(SELLER_NAME="Cinema Example LLC", SUPPORT_EMAIL="help@cinema.test")
    try:
        sub = english(trial_ending_in(3))
        reminders_due()
        run_jobs()
    finally:
        app.config.update(saved)
    [mail] = mailbox.wait_for(sub.customer.email)
    assert mail["From"] == "Cinema <billing@cinema.test>" and mail["Reply-To"] == "help@cinema.test"
    assert "Cinema Example LLC · Questions? Write to help@cinema.test." in text_of(mail)


def scheduled_price_move(sub, new_amount):
    """Staff raise the plan's price and move the subscription to it, with the notice (30 days) from now."""
    from portal.billing import prices
    from portal.machines import atomic

    plan = db.session.get(Plan, sub.plan_id)
    plan.amount = new_amount
    db.session.commit()
    with atomic():
        return prices.move_to_plan_price(sub.id, actor="staff:1", cause="2027 prices")


def test_a_trial_ending_after_a_price_move_took_effect_is_reminded_with_the_new_price(app, mailbox):
    sub = english(trial_ending_in(33))
    move = scheduled_price_move(sub, 59900)
    assert move.first_renewal_at == sub.current_period_end  # the notice ends 30 days on, before the trial does
    clock.freeze(sub.current_period_end - timedelta(days=3))
    assert reminders_due() == 1
    run_jobs()
    [mail] = [m for m in mailbox.wait_for(sub.customer.email, count=2)
              if m["Subject"] == "Your free trial ends in 3 days"]
    text = text_of(mail)
    assert "Then we charge RUB 599.00 to your saved card" in text and "RUB 499.00" not in text
    assert "First payment: RUB 599.00 on" in text


def test_a_yearly_renewal_before_a_price_move_takes_effect_is_reminded_with_the_price_of_now(app, mailbox):
    plan = make_plan(code="yearly", amount=299000, interval_unit="year")
    sub = with_card(make_subscription(status="active", plan=plan, period_days=7))
    scheduled_price_move(sub, 349000)  # the notice runs out after this renewal: it still bills 2 990,00 ₽
    later = with_card(make_subscription(status="active", plan=make_plan(code="yearly2", amount=299000,
                                                                       interval_unit="year"), period_days=40))
    scheduled_price_move(later, 349000)  # this one renews after the notice: 3 490,00 ₽
    assert reminders_due() == 1
    clock.freeze(later.current_period_end - timedelta(days=7))
    assert reminders_due() == 1
    run_jobs()
    [now_priced] = [m for m in mailbox.wait_for(sub.customer.email, count=2)
                    if m["Subject"] == "Годовая подписка продлится через 7 дней"]
    assert "Мы спишем 2\xa0990,00\xa0₽ с сохранённой карты." in text_of(now_priced)
    [moved] = [m for m in mailbox.wait_for(later.customer.email, count=2)
               if m["Subject"] == "Годовая подписка продлится через 7 дней"]
    assert "Мы спишем 3\xa0490,00\xa0₽ с сохранённой карты." in text_of(moved)
    assert "Оплата: 3\xa0490,00\xa0₽, " in text_of(moved)
