"""The staff subscription pages, their action forms and the payment page in Russian (the default) and in English
when asked: status badges read in the page's language while their classes and data-status keep the stored word,
confirmations and staff-facing refusals are translated, and plural forms follow Russian grammar (1, 2, 5, 21)."""
import re

import pytest

from portal.extensions import db
from tests.admin.support import completed_payment, paid_subscription
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
