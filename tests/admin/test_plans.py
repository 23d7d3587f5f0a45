"""Plans: create, edit, archive; a price change reaches new subscriptions only; a sold plan is never deleted."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import Plan, StaffAction, Subscription
from tests.factories import make_plan, make_subscription

FORM = {"code": "family", "name_ru": "Семейная", "name_en": "Family", "description_ru": "Четыре экрана",
        "description_en": "Four screens", "price": "599.00", "currency": "RUB", "interval_count": "1",
        "interval_unit": "month", "trial_days": "7"}


def plan(code):
    db.session.expire_all()
    return db.session.scalar(select(Plan).where(Plan.code == code))


def test_create_a_plan(staff):
    response = staff.post("/admin/plans/new", FORM)
    assert response.status_code == 303
    created = plan("family")
    assert (created.amount, created.currency, created.trial_days, created.status) == (59900, "RUB", 7, "active")
    [action] = db.session.scalars(select(StaffAction)).all()
    assert (action.action, action.target_id, action.remote_addr) == ("plan.create", str(created.id), "203.0.113.7")
    assert "family" in staff.get("/admin/plans").get_data(as_text=True)


def test_plan_form_errors_are_shown_field_by_field(staff):
    make_plan(code="family")
    bad = {**FORM, "price": "5.999", "currency": "XXY", "interval_unit": "fortnight", "trial_days": "-1"}
    response = staff.post("/admin/plans/new", bad)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("Another plan has this code", "ISO 4217", "Day, week, month or year", "A whole number from 0"):
        assert message in text
    assert staff.post("/admin/plans/new", {**FORM, "code": "x2", "price": "5.999"}).status_code == 422


def test_a_price_change_applies_to_new_subscriptions_only(staff):
    p = make_plan(code="monthly", amount=29900)
    sub = make_subscription("active", plan=p)
    page = staff.get(f"/admin/plans/{p.id}/edit").get_data(as_text=True)
    assert "A new price applies to new subscriptions only" in page and 'value="299.00"' in page
    assert "Price changes apply to new subscriptions only" in staff.get("/admin/plans").get_data(as_text=True)

    response = staff.post(f"/admin/plans/{p.id}/edit", {**FORM, "code": "ignored", "price": "349.00",
                                                        "name_en": "Monthly"})
    assert response.status_code == 303
    assert plan("monthly").amount == 34900 and plan("monthly").name_en == "Monthly"
    assert db.session.get(Subscription, sub.id).amount == 29900  # the subscription keeps its own price
    action = db.session.scalars(select(StaffAction).where(StaffAction.action == "plan.update")).one()
    assert action.details["changes"]["amount"] == [29900, 34900]


def test_the_interval_and_currency_of_a_sold_plan_cannot_change(staff):
    p = make_plan(code="monthly", amount=29900)
    make_subscription("active", plan=p)
    response = staff.post(f"/admin/plans/{p.id}/edit", {**FORM, "price": "299.00", "interval_unit": "year"})
    assert response.status_code == 409
    assert "cannot change once a plan has subscriptions" in response.get_data(as_text=True)
    assert plan("monthly").interval_unit == "month"
    unsold = make_plan(code="unsold")
    assert staff.post(f"/admin/plans/{unsold.id}/edit", {**FORM, "interval_unit": "year"}).status_code == 303
    assert plan("unsold").interval_unit == "year"


def test_archive_and_restore(staff):
    p = make_plan(code="monthly")
    assert staff.post(f"/admin/plans/{p.id}/archive", {"archived": "1"}).status_code == 303
    assert plan("monthly").status == "archived"
    staff.post(f"/admin/plans/{p.id}/archive", {"archived": "0"})
    assert plan("monthly").status == "active"
    actions = db.session.scalars(select(StaffAction.action).order_by(StaffAction.id)).all()
    assert actions == ["plan.archive", "plan.restore"]


def test_a_plan_with_subscriptions_is_never_deleted(staff):
    p = make_plan(code="monthly")
    make_subscription("canceled", plan=p)
    response = staff.post(f"/admin/plans/{p.id}/delete", {"confirm": "yes"})
    assert response.status_code == 303
    assert plan("monthly") is not None
    assert "has 1 subscription and cannot be deleted" in staff.get("/admin/plans").get_data(as_text=True)
    assert db.session.scalars(select(StaffAction)).all() == []


def test_an_unsold_plan_is_deleted_only_once_staff_confirm(staff):
    p = make_plan(code="mistake")
    asked = staff.get(f"/admin/plans/{p.id}/delete")
    assert asked.status_code == 200 and 'id="plan-delete-confirm"' in asked.get_data(as_text=True)
    unconfirmed = staff.post(f"/admin/plans/{p.id}/delete")
    assert unconfirmed.status_code == 200 and plan("mistake") is not None
    assert staff.post(f"/admin/plans/{p.id}/delete", {"confirm": "yes"}).status_code == 303
    assert plan("mistake") is None
    assert db.session.scalars(select(StaffAction.action)).all() == ["plan.delete"]


def test_the_plan_form_saves_the_name_and_description_in_each_language(staff):
    assert staff.post("/admin/plans/new", FORM).status_code == 303
    created = plan("family")
    assert (created.name_ru, created.name_en) == ("Семейная", "Family")
    assert (created.description_ru, created.description_en) == ("Четыре экрана", "Four screens")
    form = staff.get(f"/admin/plans/{created.id}/edit").get_data(as_text=True)
    assert 'value="Семейная"' in form and 'value="Family"' in form and "Четыре экрана" in form

    assert staff.post(f"/admin/plans/{created.id}/edit", {**FORM, "name_en": "Family plan"}).status_code == 303
    assert (plan("family").name_ru, plan("family").name_en) == ("Семейная", "Family plan")


def test_a_plan_without_its_russian_name_is_refused_with_a_message(staff):
    response = staff.post("/admin/plans/new", {**FORM, "name_ru": "  "})
    assert response.status_code == 422
    assert "Give the plan a name in Russian" in response.get_data(as_text=True)
    assert plan("family") is None

    existing = make_plan(code="monthly")
    refused = staff.post(f"/admin/plans/{existing.id}/edit", {**FORM, "name_ru": ""})
    assert refused.status_code == 422 and plan("monthly").name_ru == "Monthly"
