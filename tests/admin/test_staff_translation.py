"""The staff pages speak the language the staff member reads: Russian by default, English when asked, with
Russian plural forms and statuses named in words, never an English label left under a Russian header."""
import re

import pytest

from portal.extensions import db
from tests.admin.support import paid_subscription
from tests.factories import make_plan

RUSSIAN = {"Accept-Language": "ru"}
ENGLISH = {"Accept-Language": "en"}


def visible_text(page: str) -> str:
    """What a reader sees: no scripts, styles or tags, and no attribute values."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def pages(staff, billing):
    sub = paid_subscription(billing)
    return {
        "dashboard": "/admin/",
        "customers": "/admin/customers",
        "customer": f"/admin/customers/{sub.customer_id}",
        "subscriptions": "/admin/subscriptions",
        "subscription": f"/admin/subscriptions/{sub.id}",
        "plans": "/admin/plans",
        "operations": "/admin/operations",
        "audit": "/admin/audit",
    }


@pytest.mark.parametrize("name", ["dashboard", "customers", "customer", "subscriptions", "subscription", "plans",
                                  "operations", "audit"])
def test_a_staff_page_reads_in_russian_and_in_english_when_asked(staff, pages, name):
    russian = staff.get(pages[name], headers=RUSSIAN)
    english = staff.get(pages[name], headers=ENGLISH)
    assert russian.status_code == english.status_code == 200
    ru, en = visible_text(russian.get_data(as_text=True)), visible_text(english.get_data(as_text=True))
    # The navigation of every staff page, in the reader's language and in no other.
    for word in ("Клиенты", "Подписки", "Тарифы"):
        assert word in ru, (name, word)
        assert word not in en, (name, word)
    for word in ("Customers", "Subscriptions", "Plans"):
        assert re.search(rf"\b{word}\b", en), (name, word)
        assert not re.search(rf"\b{word}\b", ru), (name, word)


def test_a_subscription_s_status_is_a_russian_word_on_a_russian_page(staff, pages):
    ru = visible_text(staff.get(pages["subscription"], headers=RUSSIAN).get_data(as_text=True))
    en = visible_text(staff.get(pages["subscription"], headers=ENGLISH).get_data(as_text=True))
    assert "активна" in ru and "активна" not in en
    assert re.search(r"\bactive\b", en, re.I)


@pytest.mark.parametrize("days, russian, english", [
    (1, "1 день", "1 day"), (2, "2 дня", "2 days"), (5, "5 дней", "5 days"), (21, "21 день", "21 days"),
])
def test_trial_lengths_on_the_plans_list_take_the_russian_plural_form(staff, app, days, russian, english):
    make_plan(code=f"trial-{days}", trial_days=days)
    db.session.commit()
    ru = visible_text(staff.get("/admin/plans", headers=RUSSIAN).get_data(as_text=True))
    en = visible_text(staff.get("/admin/plans", headers=ENGLISH).get_data(as_text=True))
    assert re.search(rf"(?<!\d){russian}(?!\w)", ru)
    assert re.search(rf"(?<!\d){english}(?!\w)", en)
