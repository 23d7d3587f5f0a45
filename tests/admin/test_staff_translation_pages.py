"""The staff pages of part 1 of the translation (navigation, dashboard, customers, operations, webhook inbox,
audit log, plans, providers, seller, review queue) read in Russian when the reader asks for it, with no English
left of what they translated, and in English as before; Russian plural forms for 1, 2, 5 and 21."""
import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Plan, WebhookEvent
from tests.factories import make_customer, make_plan, make_subscription


def visible_text(page: str) -> str:
    """What a reader sees: no scripts, styles or tags (attribute values go with the tags)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace("&amp;", "&")


def read(staff, path, language, **kwargs):
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    response = staff.get(path, **kwargs)
    assert response.status_code == 200, (path, language, response.status_code)
    return visible_text(response.get_data(as_text=True))


@pytest.fixture
def paths(staff):
    customer = make_customer(email="reader@example.com")
    make_subscription("active", plan=make_plan(code="monthly"), customer=customer)
    spare = make_plan(code="spare")
    event = WebhookEvent(provider="cloudpayments", kind="pay", status="failed", body=b"TransactionId=1&Token=abc",
                         error="boom", remote_addr="198.51.100.9")
    db.session.add(event)
    db.session.commit()
    # One staff action for the audit log: archiving a plan and putting it back on sale.
    staff.post(f"/admin/plans/{spare.id}/archive", {"archived": "1"})
    return {
        "dashboard": "/admin/",
        "customers": "/admin/customers",
        "customer": f"/admin/customers/{customer.id}",
        "operations": "/admin/operations",
        "webhooks": "/admin/webhooks",
        "webhook": f"/admin/webhooks/{event.id}",
        "audit": "/admin/audit",
        "plans": "/admin/plans",
        "plan_new": "/admin/plans/new",
        "plan_edit": f"/admin/plans/{spare.id}/edit",
        "plan_delete": f"/admin/plans/{spare.id}/delete",
        "providers": "/admin/providers",
        "seller": "/admin/seller",
        "review": "/admin/review",
    }


# page: (Russian it shows, English it showed before and shows in English only)
PAGES = {
    "dashboard": (["Сводка", "Состояние системы", "Действующие подписки по тарифам", "Выгрузки для бухгалтерии"],
                  ["Dashboard", "Operational health", "Live subscriptions per plan", "Exports for accounting"]),
    "customers": (["Выгрузить всех клиентов в CSV", "Внешний id", "Действующая подписка"],
                  ["Export all customers as CSV", "External id", "Live subscription"]),
    "customer": (["Способы оплаты", "Письма", "Возвраты", "Сохранённых карт нет."],
                 ["Payment methods", "Mails", "No saved cards."]),
    "operations": (["Исходящие события и задачи", "Недоставленные письма", "Все письма доставлены."],
                   ["Outbox & jobs", "Mail not delivered", "Every mail was delivered."]),
    "webhooks": (["Входящие уведомления", "Показать", "Ошибка / причина"],
                 ["Webhook inbox", "Filter", "Error / reason"]),
    "webhook": (["Уведомление №", "Сохранённое содержимое", "Последняя ошибка: boom", "••• (скрыто)"],
                ["Notification #", "Stored payload", "Last error: boom", "••• (hidden)"]),
    "audit": (["Журнал действий", "Подробности", "тариф #", "статус"],
              ["Audit log", "Details", "plan #"]),
    "plans": (["Новый тариф", "Изменения цены действуют только для новых подписок.", "Вернуть в продажу", "1 месяц"],
              ["New plan", "Price changes apply to new subscriptions only.", "Put back on sale", "1 month"]),
    "plan_new": (["Новый тариф", "Название на русском", "Создать тариф"],
                 ["New plan", "Name in Russian", "Create plan"]),
    "plan_edit": (["Изменение тарифа spare", "Новая цена действует только для новых подписок.", "Подписок пока нет"],
                  ["Edit plan spare", "A new price applies to new subscriptions only.", "Nobody has subscribed yet"]),
    "plan_delete": (["Удалить тариф Spare (spare)?", "RUB 299.00 за 1 месяц.", "Назад к тарифам"],
                    ["Delete plan Spare (spare)?", "RUB 299.00 per 1 month.", "Back to the plans"]),
    "providers": (["Платёжные провайдеры", "Провайдер новых оформлений", "Использовать для RUB"],
                  ["Payment providers", "New checkouts pay with", "Use for RUB"]),
    "seller": (["Реквизиты продавца", "Юридический адрес", "НДС по тарифам", "Система налогообложения"],
               ["Legal address", "VAT per plan", "Taxation system", "Fill in the form to send a fiscal receipt"]),
    "review": (["Платежи на проверку", "Недавно решённые", "Проверять нечего."],
               ["Payments to review", "Recently resolved", "Nothing to review."]),
}
NAVIGATION = (["Клиенты", "Тарифы", "Журнал действий", "Входящие уведомления"],
              ["Customers", "Plans", "Audit log", "Webhook inbox"])


@pytest.mark.parametrize("name", sorted(PAGES))
def test_a_staff_page_reads_in_russian_and_in_english_as_before(staff, paths, name):
    ru, en = read(staff, paths[name], "ru"), read(staff, paths[name], "en")
    russian, english = PAGES[name]
    for text in russian + NAVIGATION[0]:
        assert text in ru, (name, text)
        assert text not in en, (name, text)
    for text in english + NAVIGATION[1]:
        assert text in en, (name, text)
        assert not re.search(rf"(?<!\w){re.escape(text)}(?!\w)", ru), (name, text)


def test_russian_is_the_default_without_accept_language(staff, paths):
    staff.client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    page = visible_text(staff.get("/admin/").get_data(as_text=True))
    assert "Сводка" in page and "Dashboard" not in page


def test_a_search_says_how_many_customers_match_in_either_language(staff, app):
    make_customer(email="anna@example.com")
    ru = read(staff, "/admin/customers", "ru", query_string={"q": "anna@example.com"})
    en = read(staff, "/admin/customers", "en", query_string={"q": "anna@example.com"})
    assert "По запросу «anna@example.com» найден 1 клиент." in ru and "совпало по" not in ru
    assert "эл. почта" in ru  # what it matched by
    assert "1 match for “anna@example.com”." in en and "email" in en
    nobody = read(staff, "/admin/customers", "ru", query_string={"q": "nobody-here"})
    assert "Никто не найден." in nobody


def test_flash_messages_and_form_errors_of_the_plans_are_russian(staff):
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    form = {"code": "Bad Code!", "name_ru": "", "name_en": "Family", "price": "2.999", "currency": "RUB",
            "interval_unit": "month", "interval_count": "99", "trial_days": "0"}
    response = staff.post("/admin/plans/new", form)
    assert response.status_code == 422
    page = visible_text(response.get_data(as_text=True))
    for text in ("Строчные латинские буквы, цифры, - и _; до 64 символов.",
                 "Укажите название тарифа на русском (до 200 символов).", "Целое число от 1 до 36.",
                 "У RUB не больше 2 знаков после запятой."):
        assert text in page, text
    assert "A whole number" not in page and "Give the plan a name" not in page

    created = staff.post("/admin/plans/new", {**form, "code": "family", "name_ru": "Семейный", "price": "299",
                                              "interval_count": "1"}, follow_redirects=True)
    assert "Тариф family создан." in visible_text(created.get_data(as_text=True))

    plan = db.session.scalar(select(Plan).where(Plan.code == "family"))
    make_subscription("active", plan=plan)
    refused = staff.post(f"/admin/plans/{plan.id}/delete", {"confirm": "yes"}, follow_redirects=True)
    assert "У тарифа family 1 подписка, его нельзя удалить; отправьте его в архив." in visible_text(
        refused.get_data(as_text=True))
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    refused = staff.post(f"/admin/plans/{plan.id}/delete", {"confirm": "yes"}, follow_redirects=True)
    assert "Plan family has 1 subscription and cannot be deleted; archive it instead." in visible_text(
        refused.get_data(as_text=True))


@pytest.mark.parametrize("days, russian, english", [
    (1, "1 день", "1 d"), (2, "2 дня", "2 d"), (5, "5 дней", "5 d"), (21, "21 день", "21 d"),
])
def test_trial_lengths_on_the_plans_list_take_the_russian_plural_form(staff, days, russian, english):
    make_plan(code=f"trial-{days}", trial_days=days)
    db.session.commit()
    ru, en = read(staff, "/admin/plans", "ru"), read(staff, "/admin/plans", "en")
    assert re.search(rf"(?<!\d){russian}(?!\w)", ru)
    assert re.search(rf"(?<!\d){english}(?!\w)", en)
    assert not re.search(rf"(?<!\d){days} d(?!\w)", ru)


def test_the_webhook_inbox_filters_and_kinds_read_in_russian_keeping_the_stored_codes(staff, paths):
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    page = staff.get(paths["webhooks"]).get_data(as_text=True)
    for option in ('<option value="pay">оплата</option>', '<option value="recurrent">рекуррентный платёж</option>',
                   '<option value="failed">ошибка</option>', '<option value="processed">обработано</option>'):
        assert option in page, option
    text = visible_text(page)
    for english in ("recurrent", "processed", "rejected", "confirm"):
        assert not re.search(rf"(?<!\w){english}(?!\w)", text), english
    assert "оплата" in visible_text(staff.get(paths["webhook"]).get_data(as_text=True))
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = staff.get(paths["webhooks"]).get_data(as_text=True)
    assert '<option value="pay">pay</option>' in page and '<option value="processed">processed</option>' in page


def test_the_seller_form_choices_and_its_errors_read_in_russian_keeping_the_stored_codes(staff, paths):
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    page = staff.get(paths["seller"]).get_data(as_text=True)
    for option in ('<option value="osn">ОСН (общая)</option>', '<option value="none" selected>Без НДС</option>',
                   "<option value=\"general\">Основная ставка на день расчёта (20 % до конца 2025, 22 % с 2026)",
                   '<option value="service" selected>услуга</option>',
                   '<option value="full_prepayment" selected>предоплата 100 %</option>'):
        assert option in page, option
    text = visible_text(page)
    for english in ("general", "Basic rate of the day", "full_prepayment", "service", "commodity", "credit"):
        assert not re.search(rf"(?<!\w){english}(?!\w)", text), english

    refused = staff.post(paths["seller"], {"legal_name": "", "inn": "7707083890", "taxation": "flat",
                                           "vat_default": "none", "payment_subject": "service",
                                           "payment_method": "full_prepayment", "receipts_email": "x"})
    assert refused.status_code == 422
    text = visible_text(refused.get_data(as_text=True))
    for russian in ("Наименование как при регистрации", "с верными контрольными цифрами",
                    "Выберите одно из предложенных значений.", "с которого отправляются чеки"):
        assert russian in text, russian
    assert "valid check digits" not in text and "Choose one of" not in text

    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = staff.get(paths["seller"]).get_data(as_text=True)
    assert '<option value="osn">OSN (general)</option>' in page and ">full prepayment</option>" in page


def test_the_audit_log_names_each_action_and_its_stored_words_in_russian_keeping_the_codes(staff, paths):
    from portal import clock
    from portal.models import StaffAction

    row = StaffAction(staff_user_id=staff.user.id, action="subscription.cancel", target_type="subscription",
                      target_id="7", remote_addr="203.0.113.7", created_at=clock.now(),
                      details={"when": "now", "state": "succeeded", "months": 1,
                               "starts_at": "2027-01-11T00:00:00+00:00"})
    db.session.add(row)
    db.session.commit()
    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    page = staff.get(paths["audit"]).get_data(as_text=True)
    assert ('<span class="action-name" data-action="subscription.cancel" title="subscription.cancel">отмена подписки'
            '</span>') in page
    assert '<option value="plan.archive">тариф в архив</option>' in page
    text = visible_text(page)
    for words in ("отмена подписки", "тариф в архив", "когда сейчас", "состояние выполнено", "месяцев 1",
                  "начало 11 января 2027"):
        assert words in text, words
    for english in ("subscription.cancel", "plan.archive", "succeeded", "now", "months", "starts_at"):
        assert not re.search(rf"(?<!\w){re.escape(english)}(?!\w)", text), english
    action = visible_text(staff.get(f"/admin/actions/{row.id}").get_data(as_text=True))
    assert f"#{row.id} отмена подписки" in action and "подписка #7" in action
    assert "subscription.cancel" not in action and "subscription 7" not in action

    staff.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    text = visible_text(staff.get(paths["audit"]).get_data(as_text=True))
    assert "cancel the subscription" in text and "archive a plan" in text and "when now" in text


def test_a_customers_invoice_kinds_and_mail_purposes_read_as_words_of_the_page(staff):
    from portal import clock
    from portal.models import OutgoingMail
    from tests.factories import make_invoice

    sub = make_subscription("active")
    make_invoice(sub, status="paid", kind="renewal")
    db.session.add(OutgoingMail(purpose="payment_receipt", subject_key="t-1", to_address=sub.customer.email,
                                user_id=sub.customer_id, locale="ru", subject="Оплата получена", text_body="-",
                                html_body="-", next_attempt_at=clock.now()))
    db.session.commit()
    russian = read(staff, f"/admin/customers/{sub.customer_id}", "ru")
    assert "Продление" in russian and "чек об оплате" in russian
    assert "renewal" not in russian and "payment receipt" not in russian and "payment_receipt" not in russian
    english = read(staff, f"/admin/customers/{sub.customer_id}", "en")
    assert "Renewal" in english and "payment receipt" in english
