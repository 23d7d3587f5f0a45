"""Dashboard figures against data whose answer is known."""
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from portal import clock
from portal.admin import queries
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Payment, Subscription, WebhookEvent
from tests.factories import make_plan, make_subscription

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def _start(sub, event="activate"):
    with atomic():
        row = lock(Subscription, sub.id)
        fire(row, event, actor="test", cause="test", period_start=clock.now(), period_end=clock.now() + timedelta(30))
    return sub


def _payment(amount, status="completed", at=NOW, currency="RUB"):
    db.session.add(Payment(provider="sandbox", provider_transaction_id=f"t-{amount}-{at.timestamp()}-{status}",
                           amount=amount, currency=currency, status=status, created_at=at))
    db.session.commit()


def test_mrr_normalises_each_price_to_a_month(app):
    yearly = make_plan(code="yearly", amount=120000, interval_unit="year")
    monthly = make_plan(code="monthly", amount=29900)
    weekly = make_plan(code="weekly", amount=5200, interval_unit="week")
    make_subscription("active", plan=yearly)
    make_subscription("active", plan=monthly)
    make_subscription("past_due", plan=monthly)  # still subscribed, being dunned: counted
    make_subscription("trialing", plan=monthly)  # not paying yet: not counted
    make_subscription("canceled", plan=monthly)
    make_subscription("active", plan=weekly)
    assert queries.monthly(120000, "year", 1) == 10000
    # 10000 (yearly / 12) + 2 × 29900 + 5200 × 52 / 12
    assert queries.mrr() == {"RUB": 10000 + 59800 + 22533}


def test_mrr_uses_the_price_each_subscription_pays_not_the_plans_current_one(app):
    plan = make_plan(code="yearly", amount=120000, interval_unit="year")
    make_subscription("active", plan=plan)
    plan.amount = 240000
    db.session.commit()
    assert queries.mrr() == {"RUB": 10000}


def test_dashboard_page_shows_known_figures(staff):
    clock.freeze(NOW)
    yearly = make_plan(code="yearly", amount=120000, interval_unit="year")
    monthly = make_plan(code="monthly", amount=29900)
    _start(make_subscription("pending", plan=yearly))
    for _ in range(2):
        _start(make_subscription("pending", plan=monthly))
    churned = _start(make_subscription("pending", plan=monthly))
    with atomic():
        fire(lock(Subscription, churned.id), "cancel", actor="test", cause="test")
    abandoned = make_subscription("pending", plan=monthly)
    with atomic():
        fire(lock(Subscription, abandoned.id), "cancel", actor="test", cause="abandoned checkout")
    _payment(29900, at=NOW - timedelta(days=2))
    _payment(29900, at=NOW - timedelta(days=2, hours=3))
    _payment(120000, at=NOW)
    _payment(99999, at=NOW - timedelta(days=40))  # outside the 30 days
    _payment(29900, status="declined", at=NOW - timedelta(hours=3))
    _payment(29900, status="declined", at=NOW - timedelta(hours=30))  # outside the 24 hours
    db.session.add(WebhookEvent(provider="sandbox", kind="pay", transaction_id="w1", status="received", body=b"{}",
                                received_at=NOW - timedelta(minutes=10)))
    db.session.commit()

    page = staff.get("/admin/").get_data(as_text=True)

    def kpi(name):
        block = page[page.index(f'id="kpi-{name}"'):]
        return re.search(r'class="kpi-value"[^>]*>([^<]+)<', block).group(1)

    assert kpi("mrr") == "RUB 698.00"  # 1200 / 12 + 2 × 299
    assert kpi("new") == "4"
    assert kpi("churned") == "1"  # the abandoned checkout is not churn
    assert kpi("failed") == "1"
    two_days_ago = (NOW - timedelta(days=2)).date().isoformat()
    assert f'data-day="{two_days_ago}" data-amount="59800"' in page
    assert f'data-day="{NOW.date().isoformat()}" data-amount="120000"' in page
    assert page.count('class="bar"') == 30
    assert "RUB 1,798.00 in 30 days" in page
    assert re.search(r'<tr data-plan="monthly">.*?class="num active-count"[^>]*>2<', page, re.S)
    health = page[page.index('id="health"'):]
    assert re.search(r'id="health-inbox"><a[^>]*>1</a> <small>oldest 10 min', health)
    outbox = re.search(r'id="health-outbox"><a[^>]*>(\d+)</a>', health).group(1)
    assert int(outbox) >= 4  # each activation and cancellation wrote an event, none relayed in tests
    assert re.search(r'id="health-jobs"><a[^>]*>0</a>', health)


def test_failed_jobs_are_counted_on_the_dashboard(staff):
    from rq import SimpleWorker

    from portal.queue import billing_queue

    queue = billing_queue()
    job = queue.enqueue("builtins.int", args=("not-a-number",))
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    health = staff.get("/admin/").get_data(as_text=True)
    assert re.search(r'id="health-jobs"><a[^>]*>1</a>', health)


def test_the_outbox_backlog_warns_only_where_a_bus_should_relay_it(staff, app):
    sub = make_subscription("pending")
    with atomic():
        fire(lock(Subscription, sub.id), "cancel", actor="test")  # an event the bus has not relayed
    configured = staff.get("/admin/").get_data(as_text=True)
    assert re.search(r'<div class="warn"><dt>Unpublished outbox rows', configured)
    app.config["AMQP_URL"], bus = None, app.config.get("AMQP_URL")
    try:
        embedded = staff.get("/admin/").get_data(as_text=True)
    finally:
        app.config["AMQP_URL"] = bus
    assert re.search(r'<div class=""><dt>Unpublished outbox rows', embedded)
    assert "no bus configured (AMQP_URL): events are kept until one is" in embedded


def test_the_revenue_charts_day_labels_end_on_today(app):
    from portal.admin.charts import bar_chart

    clock.freeze(NOW)
    _payment(29900, at=NOW)
    [series] = queries.revenue_per_day(30, NOW).values()
    chart = bar_chart(series)
    days = [day for _, day in chart.labels]
    assert days[-1] == NOW.date() == series[-1][0]
    assert {(later - earlier).days for earlier, later in pairwise(days)} == {5}
    assert chart.labels[-1][0] == round(chart.bars[-1].x + chart.bars[-1].width / 2, 2)  # under today's bar
