"""The audit log reads as sentences of billing, not as stored dictionaries: amounts in money, a change as before →
after, and every target and referenced row a link to its page."""
import re

from portal import clock
from portal.extensions import db
from portal.models import StaffAction
from tests.factories import make_plan


def _row(staff, action, target_type, target_id, details):
    row = StaffAction(staff_user_id=staff.user.id, action=action, target_type=target_type, target_id=str(target_id),
                      details=details, remote_addr="203.0.113.7", created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row


def _audit(staff, language):
    return staff.client.get("/admin/audit", headers={"Accept-Language": language})


def _audit_row(page, action):
    [row] = re.findall(rf'<tr class="audit-row" data-action="{re.escape(action)}">(.*?)</tr>', page, re.S)
    return re.sub(r"\s+", " ", row)


def test_a_price_change_reads_as_money_before_and_after_with_a_link_to_the_plan(staff):
    plan = make_plan(code="monthly", amount=29900)
    _row(staff, "plan.update", "plan", plan.id, {"code": "monthly", "changes": {"amount": [29900, 34900]}})
    row = _audit_row(_audit(staff, "en").get_data(as_text=True),
                     "plan.update")
    assert "RUB 299.00 → RUB 349.00" in row
    assert "29900" not in row and "changes=" not in row and "{" not in row
    assert f'href="/admin/plans/{plan.id}/edit">plan #{plan.id}</a>' in row
    russian = _audit_row(_audit(staff, "ru").get_data(as_text=True), "plan.update")
    assert f">тариф #{plan.id}</a>" in russian and "<dt>сумма</dt><dd>RUB 299.00 → RUB 349.00</dd>" in russian


def test_a_refund_links_its_payment_and_subscription_and_says_the_amount_in_money(staff):
    _row(staff, "payment.refund", "payment", 13, {"amount": 10000, "currency": "RUB", "reason": "asked by phone",
                                                   "full": False, "subscription_id": 7, "state": "succeeded"})
    row = _audit_row(_audit(staff, "en").get_data(as_text=True),
                     "payment.refund")
    assert 'href="/admin/payments/13">payment #13</a>' in row
    assert 'href="/admin/subscriptions/7">subscription #7</a>' in row
    assert "RUB 100.00" in row and "asked by phone" in row
    assert "amount=" not in row and "10000" not in row


def test_details_of_a_shape_the_reading_does_not_know_are_shown_as_stored(staff):
    _row(staff, "seller.update", "seller", 1, {"changes": ["inn", "name"]})
    _row(staff, "plan.update", "plan", 999, {"changes": {"amount": 29900, "name_en": ["A", "B", "C"]}})
    response = _audit(staff, "en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "[&#39;inn&#39;, &#39;name&#39;]" in _audit_row(page, "seller.update")
    odd = _audit_row(page, "plan.update")
    assert "<dd>29900</dd>" in odd and "plan #999" in odd
