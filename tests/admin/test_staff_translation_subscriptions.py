"""The staff subscription pages, their action forms and the payment page in Russian (the default) and in English
when asked: status badges read in the page's language while their classes and data-status keep the stored word,
confirmations and staff-facing refusals are translated, and plural forms follow Russian grammar (1, 2, 5, 21)."""
import re
from datetime import date

import pytest
from babel.dates import format_date

from portal.extensions import db
from tests.admin.support import completed_payment, paid_subscription
from tests.admin.test_staff_translation_pages import visible_text
from tests.factories import make_subscription


@pytest.fixture
def russian(staff):
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    return staff


def english(staff):
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return staff


def badge(page, status):
    match = re.search(rf'<span class="badge [^"]*badge-{status}" data-status="{status}">([^<]*)</span>', page)
    assert match, f"no badge for {status}"
    return match.group(1)


def test_a_status_badge_reads_russian_in_russian_and_english_in_english_keeping_the_stored_status(russian):
    make_subscription(status="past_due")
    make_subscription(status="active")
    page = russian.get("/admin/subscriptions").get_data(as_text=True)
    assert badge(page, "past_due") == "просрочена" and badge(page, "active") == "активна"
    assert 'class="badge badge-subscription-past_due badge-past_due"' in page
    assert "Подписки" in page and "Выгрузить эти подписки в CSV" in page and ">Клиент</th>" in page
    assert "Export these subscriptions" not in page and ">past due<" not in page
    assert '<option value="past_due">просрочена</option>' in page  # the filter too

    page = english(russian).get("/admin/subscriptions").get_data(as_text=True)
    assert badge(page, "past_due") == "past due" and badge(page, "active") == "active"
    assert "Export these subscriptions as CSV" in page and "Выгрузить" not in page


def test_the_subscription_page_and_its_tables_in_russian(russian, billing):
    sub = paid_subscription(billing)
    page = russian.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    for word in (f"Подписка №{sub.id}", "Действия", "Отменить…", "Добавить бесплатные дни…", "Счета", "Платежи",
                 "История", "Действия сотрудников", "Жизненный цикл", "Автопродление", "Возврат…"):
        assert word in page, word
    assert badge(page, "active") == "активна" and badge(page, "paid") == "оплачен"
    assert badge(page, "completed") == "проведён"
    for english_words in ("Grant extra days…", "Each action asks for confirmation", "Staff actions", "Timeline",
                          "No transitions yet", "Older →"):
        assert english_words not in page, english_words

    payment = completed_payment(sub)
    page = russian.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert f"Платёж №{payment.id}" in page and "проведён" in page and ">Провайдер</dt>" in page
    assert ">Provider</dt>" not in page

    page = english(russian).get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert f"Subscription #{sub.id}" in page and "Grant extra days…" in page and "Timeline" in page
    assert badge(page, "paid") == "paid" and "Подписка" not in page


def test_a_confirmation_form_in_russian_and_english(russian, billing):
    sub = paid_subscription(billing)
    url = f"/admin/subscriptions/{sub.id}/cancel"
    form = russian.get(url, htmx=True).get_data(as_text=True)
    assert f"Отмена подписки №{sub.id}" in form and "В конце периода" in form and "Причина (необязательно)" in form
    assert ">Проверить</button>" in form and "Review" not in form

    review = russian.post(url, {"when": "now", "refund": "1", "reason": "по телефону"}, htmx=True)
    text = review.get_data(as_text=True)
    assert review.status_code == 200 and 'name="confirm" value="yes"' in text
    assert "Отменить <strong>сейчас</strong>: доступ прекращается сразу" in text
    assert "Подтвердить отмену" in text and ">Отмена</button>" in text and "Причина: по телефону" in text
    assert "Confirm cancellation" not in text and "access ends at once" not in text

    refused = russian.post(f"/admin/subscriptions/{sub.id}/grant", {"days": "0", "reason": "x"}, htmx=True)
    assert refused.status_code == 422 and "Число дней — целое, от 1 до" in refused.get_data(as_text=True)
    long_reason = russian.post(f"/admin/subscriptions/{sub.id}/grant",
                               {"days": "3", "reason": "x" * 600, "confirm": "yes"}, htmx=True)
    assert long_reason.status_code == 422
    assert "Причина должна быть короче 500 символов." in long_reason.get_data(as_text=True)

    text = english(russian).post(url, {"when": "now", "refund": "1", "reason": "phone"}, htmx=True).get_data(
        as_text=True)
    assert "Cancel <strong>now</strong>: access ends at once" in text and "Confirm cancellation" in text
    assert ">Cancel</button>" in text and "Подтвердить" not in text


@pytest.mark.parametrize("days, russian_words, english_words", [
    (1, "<strong>1 день</strong>", "<strong>1 day</strong>"),
    (2, "<strong>2 дня</strong>", "<strong>2 days</strong>"),
    (5, "<strong>5 дней</strong>", "<strong>5 days</strong>"),
    (21, "<strong>21 день</strong>", "<strong>21 days</strong>"),
])
def test_extra_days_take_the_russian_plural_forms(russian, days, russian_words, english_words):
    sub = make_subscription(status="active")
    url = f"/admin/subscriptions/{sub.id}/grant"
    text = russian.post(url, {"days": str(days), "reason": "извинение"}, htmx=True).get_data(as_text=True)
    assert f"Добавить {russian_words} бесплатно" in text and "Подтвердить начисление" in text
    assert "free of charge" not in text and "day(s)" not in text
    text = english(russian).post(url, {"days": str(days), "reason": "apology"}, htmx=True).get_data(as_text=True)
    assert f"Add {english_words} free of charge" in text and "Confirm grant" in text
    db.session.rollback()


def text_of(response):
    return visible_text(response.get_data(as_text=True))


def test_a_missing_reason_is_asked_for_in_russian(russian):
    sub = make_subscription(status="active")
    for action, form in (("grant", {"days": "3"}), ("pause", {"months": "1"})):
        refused = russian.post(f"/admin/subscriptions/{sub.id}/{action}", {**form, "reason": " "}, htmx=True)
        text = text_of(refused)
        assert refused.status_code == 422 and "Укажите причину: она попадёт в журнал действий" in text, action
        assert "Give a reason" not in text, action
    db.session.rollback()


def test_billing_refusals_read_in_russian_on_the_staff_forms_and_in_english_when_asked(russian):
    """The refusals come from billing's services (pauses, prices, plan changes), which also run in workers: they are
    English there, and the staff page translates them from their msgid."""
    sub = make_subscription(status="active")
    sub.pause_starts_at = sub.current_period_end
    db.session.commit()
    day = format_date(sub.pause_starts_at.date(), "d MMMM y", locale="ru")  # the page's date style, not ISO

    paused = russian.post(f"/admin/subscriptions/{sub.id}/pause", {"months": "1", "reason": "x"}, htmx=True)
    assert paused.status_code == 409
    assert f"Подписка {sub.id} уже встаёт на паузу {day}." in text_of(paused)
    assert "already pauses" not in text_of(paused)
    too_long = russian.post(f"/admin/subscriptions/{sub.id}/pause", {"months": "4", "reason": "x"}, htmx=True)
    assert too_long.status_code == 422 and "Пауза длится 1, 2, 3 мес., а не 4." in text_of(too_long)
    assert "months, not" not in text_of(too_long)

    price = russian.post(f"/admin/subscriptions/{sub.id}/move-price", {"reason": "x"}, htmx=True)
    assert price.status_code == 409 and f"Подписка {sub.id} уже платит цену тарифа." in text_of(price)
    assert "already pays the plan" not in text_of(price)

    same = russian.post(f"/admin/subscriptions/{sub.id}/change-plan", {"plan": sub.plan.code, "reason": "x"},
                        htmx=True)
    assert f"подписка {sub.id} уже на тарифе {sub.plan.code}" in text_of(same)
    assert "already" not in text_of(same)
    ended = make_subscription(status="canceled")
    gone = russian.post(f"/admin/subscriptions/{ended.id}/change-plan", {"plan": sub.plan.code, "reason": "x"},
                        htmx=True)
    assert f"подписка {ended.id} в статусе «отменена»: сменить тариф можно" in text_of(gone)

    english(russian)
    paused = russian.post(f"/admin/subscriptions/{sub.id}/pause", {"months": "1", "reason": "x"}, htmx=True)
    english_day = format_date(sub.pause_starts_at.date(), "MMMM d, y", locale="en")
    assert f"Subscription {sub.id} already pauses on {english_day}." in text_of(paused)
    price = russian.post(f"/admin/subscriptions/{sub.id}/move-price", {"reason": "x"}, htmx=True)
    assert f"Subscription {sub.id} already pays the plan's price." in text_of(price).replace("&#39;", "'")
    db.session.rollback()


def test_without_seller_settings_the_staff_read_why_in_russian(russian, billing):
    sub = paid_subscription(billing)
    payment = completed_payment(sub)
    for path in ("/admin/seller", f"/admin/payments/{payment.id}"):
        text = text_of(russian.get(path))
        assert "Реквизиты продавца не заполнены: платежи проходят без кассовых чеков." in text, path
        assert "Seller settings are not filled in" not in text, path
    assert "Seller settings are not filled in" in text_of(english(russian).get("/admin/seller"))


def test_a_billing_refusal_is_english_without_a_reader_and_the_page_translates_it(app):
    """As in a worker (an app context, no request): the message is English, as the API and job results read it;
    a staff page translates it from its msgid, the stored status read as its word."""
    from flask_babel import refresh

    from portal.admin.labels import translated
    from portal.billing import pauses

    sub = make_subscription(status="canceled")
    refusal = pauses.pause_refusal(sub, 1)
    assert refusal == f"only an active subscription can be paused; subscription {sub.id} is canceled"
    for language, text in (("ru", f"приостановить можно только активную подписку; подписка {sub.id} в статусе "
                                  "«отменена»"),
                           ("en", f"only an active subscription can be paused; subscription {sub.id} is canceled")):
        with app.test_request_context(headers={"Accept-Language": language}):
            refresh()
            assert translated(refusal) == text


def test_the_timeline_and_the_lifecycle_name_entities_events_and_states_in_russian(russian, billing):
    sub = paid_subscription(billing)
    page = russian.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    timeline = visible_text(page[page.index('id="timeline"'):page.index('id="staff-actions"')])
    for words in (f"подписка #{sub.id} активация ожидает оплаты → активна", "счёт #", "оплата открыт → оплачен",
                  "платёж #", "проведение в обработке → проведён", "платёжный провайдер"):
        assert words in timeline, words
    for words in ("activate", "pending", "subscription #", "invoice #", "payment #", "complete", "by provider"):
        assert words not in timeline, words
    # The stored codes stay in the attributes.
    assert 'data-entity="subscription" data-event="activate" data-from="pending" data-to="active"' in page
    assert 'title="provider"' in page

    lifecycle = page[page.index('id="lifecycle"'):]
    text = visible_text(lifecycle[:lifecycle.index("<details>")])
    for words in ("Ожидает оплаты", "начало пробного периода → пробный период", "Просрочена",
                  "пауза → на паузе", "автопродление снова включено → активна"):
        assert words in text, words
    for words in ("Pending", "Trialing", "start_trial", "mark_past_due", "→ past_due"):
        assert words not in text, words
    assert '<li data-event="start_trial" data-target="trialing">' in lifecycle
    diagram = lifecycle[lifecycle.index('id="lifecycle-diagram"'):]
    for line in ("state &#34;Ожидает оплаты&#34; as pending", "pending --&gt; trialing : Начало пробного периода",
                 "active --&gt; paused : Пауза [!no_pause_scheduled]", "class active current"):
        assert line in diagram, line
    assert "Start trial" not in diagram and "&#34;Pending&#34;" not in diagram

    page = english(russian).get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert "pending → active" in page and "pending --&gt; trialing : Start trial" in page
    assert f"subscription #{sub.id}" in page and "<strong>Past due</strong>" in page


def test_every_lifecycle_event_and_state_has_its_words():
    from portal.admin.labels import CODE_LABELS, STATUS_LABELS
    from portal.machines.invoice import InvoiceMachine
    from portal.machines.payment import PaymentMachine
    from portal.machines.receipt import ReceiptMachine
    from portal.machines.refund import RefundMachine
    from portal.machines.subscription import SubscriptionMachine

    for machine in (SubscriptionMachine, InvoiceMachine, PaymentMachine, RefundMachine, ReceiptMachine):
        kind = machine.entity_type
        assert {event.id for event in machine.events} <= set(CODE_LABELS[f"{kind} event"]), kind
        assert {state.value for state in machine.states} <= set(STATUS_LABELS[kind]), kind
        assert kind in CODE_LABELS["entity"]


def test_a_job_result_is_kept_in_english_and_read_in_the_page_language(russian, billing):
    """The worker has no reader: it writes the result in English with its msgid and values; the pages translate it."""
    from sqlalchemy import update

    from portal.models import Subscription
    from tests.admin.test_subscription_actions import run_action

    sub = paid_subscription(billing)
    url = f"/admin/subscriptions/{sub.id}/grant"
    action, page = run_action(russian, billing, russian.post(url, {"days": "3", "reason": "x", "confirm": "yes"},
                                                             htmx=True))
    assert action.details["result"].startswith(f"Subscription {sub.id} now runs until ")
    assert action.details["result_message"]["msgid"] == (
        "Subscription %(id)s now runs until %(date)s (complimentary invoice %(invoice)s).")
    assert f"Готово. Подписка {sub.id} теперь действует до " in alert(page) and "now runs" not in alert(page)
    until = action.details["result_message"]["values"]["date"]  # kept as an ISO day, read in the page's style
    day = format_date(date.fromisoformat(until), "d MMMM y", locale="ru")
    for path in (f"/admin/subscriptions/{sub.id}", "/admin/audit"):
        text = text_of(russian.get(path))
        assert f"Подписка {sub.id} теперь действует до {day} " in text and "now runs until" not in text, path
        assert until not in text, path

    # A refusal met by the job (the subscription ended after staff asked): billing's message, translated too.
    queued = russian.post(url, {"days": "2", "reason": "x", "confirm": "yes"}, htmx=True)
    action_id = re.search(r'data-action-id="(\d+)"', queued.get_data(as_text=True)).group(1)
    db.session.execute(update(Subscription).where(Subscription.id == sub.id).values(status="canceled"))
    db.session.commit()
    billing.work()
    text = alert(russian.get(f"/admin/actions/{action_id}").get_data(as_text=True))
    assert text == f"Не выполнено: подписка {sub.id} в статусе «отменена»"
    text = alert(english(russian).get(f"/admin/actions/{action_id}").get_data(as_text=True))
    assert text == f"Not done: subscription {sub.id} is canceled"


def alert(page: str) -> str:
    """The action page's outcome, as read (the raw details below it keep the stored English)."""
    outcome = re.search(r'<p class="alert[^"]*" role="(?:status|alert)">(.*?)</p>', page, re.S).group(1)
    return visible_text(outcome).strip()
