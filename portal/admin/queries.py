"""What the admin pages read. Every page is a fixed number of queries whatever the number of rows (related rows
come in one batch each), and lists page by keyset (id < cursor) on indexed columns, so they stay fast at a
million rows."""
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal import clock
from portal.billing import review
from portal.extensions import db
from portal.models import (
    Invoice,
    OutboxMessage,
    Payment,
    PaymentMethod,
    Plan,
    StaffAction,
    Subscription,
    Transition,
    User,
    WebhookEvent,
)
from portal.models.subscription import ENDED_STATUSES, ENTITLED_STATUSES

PAGE_SIZE = 50
MAX_ID = 2**63 - 1
LIVE = ENTITLED_STATUSES
# MRR counts what is being paid for: active and past-due (still subscribed, being dunned); not trials.
MRR_STATUSES = ("active", "past_due")
TIMELINE_LIMIT = 500


@dataclass
class Page:
    rows: list
    next_cursor: int | None


def keyset(stmt, id_column, before: int | None, limit: int = PAGE_SIZE) -> Page:
    """Newest first, `limit` rows older than the cursor; the next cursor when there are more."""
    if before:
        stmt = stmt.where(id_column < before)
    rows = list(db.session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more and rows else None)


def _aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:  # SQLite returns naive UTC from aggregates
        return value.replace(tzinfo=UTC)
    return value


def _is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


# --- dashboard --------------------------------------------------------------------------------------------------


def monthly(amount: int, unit: str, count: int) -> Decimal:
    """A price per billing interval as a price per month (a year is 12 months, a week 52/12 of one)."""
    months_per_interval = {"day": Decimal(12) / 365, "week": Decimal(12) / 52, "month": Decimal(1),
                           "year": Decimal(12)}[unit]
    return Decimal(amount) / (months_per_interval * count)


def mrr() -> dict[str, int]:
    """Monthly recurring revenue per currency, from the price each subscription pays (its own copy)."""
    rows = db.session.execute(
        select(Subscription.currency, Plan.interval_unit, Plan.interval_count, func.sum(Subscription.amount))
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.status.in_(MRR_STATUSES))
        .group_by(Subscription.currency, Plan.interval_unit, Plan.interval_count)).all()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, unit, count, amount in rows:
        totals[currency] += monthly(int(amount), unit, count)
    return {currency: int(total.to_integral_value()) for currency, total in sorted(totals.items())}


def active_per_plan() -> list[dict]:
    rows = db.session.execute(
        select(Plan, Subscription.status, func.count(Subscription.id))
        .join(Subscription, and_(Subscription.plan_id == Plan.id, Subscription.status.in_(LIVE)), isouter=True)
        .group_by(Plan.id, Subscription.status).order_by(Plan.id)).all()
    plans: dict[int, dict] = {}
    for plan, status, count in rows:
        entry = plans.setdefault(plan.id, {"id": plan.id, "code": plan.code, "plan": plan, "status": plan.status,
                                           "trialing": 0, "active": 0, "past_due": 0})
        if status:
            entry[status] = count
    return list(plans.values())


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def new_and_churned(since: datetime) -> tuple[int, int]:
    """New: subscriptions that started (first paid or trial) since then. Churned: ones that ended since then,
    abandoned checkouts (pending → canceled/expired) not counted."""
    started = db.session.scalar(select(func.count()).select_from(Transition).where(
        Transition.entity_type == "subscription", Transition.from_state == "pending",
        Transition.to_state.in_(("trialing", "active")), Transition.created_at >= since))
    ended = db.session.scalar(select(func.count()).select_from(Transition).where(
        Transition.entity_type == "subscription", Transition.from_state != "pending",
        Transition.to_state.in_(ENDED_STATUSES), Transition.created_at >= since))
    return int(started), int(ended)


def revenue_per_day(days: int = 30, now: datetime | None = None) -> dict[str, list[tuple[date, int]]]:
    """Completed payments per UTC day, per currency, every day of the window present (zero when none)."""
    now = now or clock.now()
    first = (now - timedelta(days=days - 1)).date()
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    day = func.date(func.timezone("UTC", Payment.created_at)) if _is_postgres() else func.date(Payment.created_at)
    rows = db.session.execute(
        select(day, Payment.currency, func.sum(Payment.amount))
        .where(Payment.status == "completed", Payment.created_at >= since)
        .group_by(day, Payment.currency)).all()
    per_currency: dict[str, dict[date, int]] = defaultdict(dict)
    for when, currency, amount in rows:
        when = date.fromisoformat(when) if isinstance(when, str) else when
        per_currency[currency][when] = int(amount)
    return {currency: [(first + timedelta(days=i), amounts.get(first + timedelta(days=i), 0)) for i in range(days)]
            for currency, amounts in sorted(per_currency.items())}


def failed_payments_since(since: datetime) -> int:
    return int(db.session.scalar(select(func.count(Payment.id)).where(
        Payment.status == "declined", Payment.created_at >= since)))


def inbox_health() -> dict:
    counts = dict(db.session.execute(select(WebhookEvent.status, func.count(WebhookEvent.id))
                                     .where(WebhookEvent.status.in_(("received", "failed")))
                                     .group_by(WebhookEvent.status)).all())
    oldest = _aware(db.session.scalar(select(func.min(WebhookEvent.received_at))
                                      .where(WebhookEvent.status == "received")))
    return {"unprocessed": counts.get("received", 0), "failed": counts.get("failed", 0),
            "oldest_age_seconds": (clock.now() - oldest).total_seconds() if oldest else 0}


def jobs_health() -> dict | None:
    """RQ's counts when Redis is configured; None in the embedded default (jobs run in-process)."""
    if not current_app.config.get("REDIS_URL"):
        return None
    from portal.queue import job_queues

    try:
        queues = job_queues()
        return {"queued": sum(queue.count for queue in queues),
                "failed": sum(queue.failed_job_registry.count for queue in queues),
                "scheduled": sum(queue.scheduled_job_registry.count for queue in queues),
                "started": sum(queue.started_job_registry.count for queue in queues)}
    except Exception as exc:  # Redis away: the dashboard still shows, saying so
        return {"error": f"{type(exc).__name__}: {exc}"}


def dashboard(now: datetime | None = None) -> dict:
    from portal.bus.relay import outbox_backlog

    now = now or clock.now()
    new, churned = new_and_churned(month_start(now))
    return {
        "plans": active_per_plan(),
        "mrr": mrr(),
        "new_this_month": new,
        "churned_this_month": churned,
        "month_start": month_start(now),
        "revenue": revenue_per_day(30, now),
        "failed_payments_24h": failed_payments_since(now - timedelta(hours=24)),
        "held_for_review": review.held_count(),
        "inbox": inbox_health(),
        "outbox": outbox_backlog(),
        "jobs": jobs_health(),
    }


# --- subscriptions ----------------------------------------------------------------------------------------------


def subscriptions(status: str | None, plan_id: int | None, before: int | None) -> Page:
    stmt = select(Subscription).options(joinedload(Subscription.customer), joinedload(Subscription.plan))
    if status:
        stmt = stmt.where(Subscription.status == status)
    if plan_id:
        stmt = stmt.where(Subscription.plan_id == plan_id)
    return keyset(stmt, Subscription.id, before)


@dataclass
class SubscriptionView:
    sub: Subscription
    invoices: list
    payments: list
    timeline: list
    staff_actions: list
    names: dict


def subscription(subscription_id: int) -> SubscriptionView | None:
    sub = db.session.scalar(select(Subscription).where(Subscription.id == subscription_id).options(
        joinedload(Subscription.customer), joinedload(Subscription.plan), joinedload(Subscription.payment_method)))
    if sub is None:
        return None
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id)
                                       .order_by(Invoice.id.desc())))
    invoice_ids = [i.id for i in invoices]
    payments = list(db.session.scalars(
        select(Payment).where(Payment.invoice_id.in_(invoice_ids)).options(selectinload(Payment.refunds))
        .order_by(Payment.id.desc()))) if invoice_ids else []
    # payment.invoice and refund.payment resolve from the session's identity map: no query per row.
    refund_ids = [r.id for p in payments for r in p.refunds]
    timeline = timeline_of({"subscription": [sub.id], "invoice": invoice_ids, "payment": [p.id for p in payments],
                            "refund": refund_ids})
    actions = list(db.session.scalars(select(StaffAction).where(or_(
        and_(StaffAction.target_type == "subscription", StaffAction.target_id == str(sub.id)),
        and_(StaffAction.target_type == "payment", StaffAction.target_id.in_([str(p.id) for p in payments]))))
        .order_by(StaffAction.id.desc()).limit(50)))
    names = actor_names([t.actor for t in timeline] + [f"staff:{a.staff_user_id}" for a in actions])
    return SubscriptionView(sub, invoices, payments, timeline, actions, names)


def timeline_of(entities: dict[str, list[int]]) -> list[Transition]:
    clauses = [and_(Transition.entity_type == kind, Transition.entity_id.in_(ids)) for kind, ids in entities.items()
               if ids]
    if not clauses:
        return []
    return list(db.session.scalars(select(Transition).where(or_(*clauses))
                                   .order_by(Transition.id.desc()).limit(TIMELINE_LIMIT)))


def actor_names(actors) -> dict[str, str]:
    """'staff:3' → the staff member's email, 'customer:12' → the customer's; one query for all of them."""
    ids = {int(a.split(":", 1)[1]) for a in actors if re.fullmatch(r"(staff|customer):\d{1,18}", a or "")}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.role, User.email).where(User.id.in_(ids))).all()
    names = {}
    for user_id, role, email in rows:
        for prefix in ("staff", "customer"):
            names[f"{prefix}:{user_id}"] = email or (
                _("anonymised staff %(id)s", id=user_id) if role == "staff"
                else _("anonymised customer %(id)s", id=user_id) if role == "customer"
                else f"anonymised {role} {user_id}")
    return names


CAUSE_LINKS = (
    (re.compile(r"notification \w+ #(\d+)"), "webhook"),
    (re.compile(r"staff action #(\d+)"), "action"),
)


def cause_link(cause: str) -> tuple[str, int] | None:
    """Which inbox row or staff action a transition's cause names, so the timeline can link to it."""
    for pattern, kind in CAUSE_LINKS:
        match = pattern.search(cause or "")
        if match:
            return kind, int(match.group(1))
    return None


# --- customers --------------------------------------------------------------------------------------------------


@dataclass
class SearchResult:
    customers: list
    matched_by: dict
    live: dict


INVOICE_NUMBER = re.compile(r"[0-9]{4}-[0-9]{6}")  # 2026-000123, as portal/models/numbering.py writes it


def search(q: str, limit: int = PAGE_SIZE) -> SearchResult:
    """By email (exact, prefix, or any part), name (any part), external id, invoice id or number, provider
    transaction id or a card's last four digits: each an indexed lookup."""
    q = (q or "").strip()
    matched: dict[int, str] = {}
    if not q:
        return SearchResult([], {}, {})

    def add(ids, why):
        for user_id in ids:
            if user_id is not None:
                matched.setdefault(user_id, why)

    lowered = q.lower()
    add(db.session.scalars(select(User.id).where(User.email == lowered)), _("email"))
    add(db.session.scalars(select(User.id).where(User.external_id == q)), _("external id"))
    if q.isdigit() and int(q) <= 2**31 - 1:
        add(db.session.scalars(select(Invoice.customer_id).where(Invoice.id == int(q))), _("invoice %(q)s", q=q))
    if INVOICE_NUMBER.fullmatch(q):
        add(db.session.scalars(select(Invoice.customer_id).where(Invoice.number == q)), _("invoice %(q)s", q=q))
    add(db.session.scalars(select(Payment.customer_id).where(Payment.provider_transaction_id == q)),
        _("transaction %(q)s", q=q))
    if re.fullmatch(r"[0-9]{4}", q):
        add(db.session.scalars(select(PaymentMethod.user_id).where(PaymentMethod.card_last_four == q)
                               .order_by(PaymentMethod.id).limit(limit)), _("card •••• %(q)s", q=q))
        add(db.session.scalars(select(Payment.customer_id).where(Payment.card_last_four == q)
                               .order_by(Payment.id.desc()).limit(limit)), _("paid with •••• %(q)s", q=q))
    if len(lowered) >= 3 and len(matched) < limit:
        escaped = lowered.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # In id order, as every list here: ordered by email, a common start ("customer1", 111,111 of a
        # million) was fetched whole from the trigram index and sorted (45 ms, against 0.04 ms by id).
        add(db.session.scalars(select(User.id).where(User.email.like(escaped + "%", escape="\\"))
                               .order_by(User.id).limit(limit)), _("email starts with"))
        # Any part of the email or the name ("example.com", "ivanov"): a trigram index answers it.
        add(db.session.scalars(select(User.id).where(User.role == "customer", or_(
                User.email.like(f"%{escaped}%", escape="\\"), User.name.ilike(f"%{escaped}%", escape="\\")))
                               .order_by(User.id).limit(limit)), _("email or name contains"))
    ids = list(matched)[:limit]
    if not ids:
        return SearchResult([], {}, {})
    customers = list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))
    return SearchResult(customers, matched, live_subscriptions(ids))


def live_subscriptions(customer_ids) -> dict[int, Subscription]:
    rows = db.session.scalars(select(Subscription).where(Subscription.customer_id.in_(customer_ids),
                                                         Subscription.status.in_(LIVE))
                              .options(joinedload(Subscription.plan)))
    return {sub.customer_id: sub for sub in rows}


def customers(before: int | None) -> Page:
    return keyset(select(User).where(User.role == "customer"), User.id, before)


@dataclass
class CustomerView:
    customer: User
    subscriptions: list
    invoices: list
    payments: list
    refunds: list
    cards: list


HISTORY_LIMIT = 200


def customer(customer_id: int) -> CustomerView | None:
    user = db.session.get(User, customer_id) if 0 < customer_id <= 2**31 - 1 else None
    if user is None:
        return None
    subs = list(db.session.scalars(select(Subscription).where(Subscription.customer_id == user.id)
                                   .options(joinedload(Subscription.plan)).order_by(Subscription.id.desc())))
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.customer_id == user.id)
                                       .order_by(Invoice.id.desc()).limit(HISTORY_LIMIT)))
    payments = list(db.session.scalars(select(Payment).where(Payment.customer_id == user.id)
                                       .options(selectinload(Payment.refunds), selectinload(Payment.invoice))
                                       .order_by(Payment.id.desc()).limit(HISTORY_LIMIT)))
    refunds = sorted((r for p in payments for r in p.refunds), key=lambda r: r.id, reverse=True)
    cards = list(db.session.scalars(select(PaymentMethod).where(PaymentMethod.user_id == user.id)
                                    .order_by(PaymentMethod.id)))
    return CustomerView(user, subs, invoices, payments, refunds, cards)


# --- inbox, outbox, audit ---------------------------------------------------------------------------------------


@dataclass
class WebhookFilters:
    kind: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def webhooks(filters: WebhookFilters, before: int | None) -> Page:
    stmt = select(WebhookEvent)
    if filters.kind:
        stmt = stmt.where(WebhookEvent.kind == filters.kind)
    if filters.status:
        stmt = stmt.where(WebhookEvent.status == filters.status)
    if filters.since:
        stmt = stmt.where(WebhookEvent.received_at >= filters.since)
    if filters.until:
        stmt = stmt.where(WebhookEvent.received_at < filters.until)
    return keyset(stmt, WebhookEvent.id, before)


def outbox_errors(limit: int = 20) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.published_at.is_(None),
                                                               OutboxMessage.last_error.is_not(None))
                                   .order_by(OutboxMessage.id).limit(limit)))


def oldest_unpublished(limit: int = 20) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.published_at.is_(None))
                                   .order_by(OutboxMessage.id).limit(limit)))


def failed_jobs(limit: int = 50) -> list[dict]:
    """RQ's failed jobs of every queue, newest first, with the last line of their error."""
    if not current_app.config.get("REDIS_URL"):
        return []
    from rq.job import Job

    from portal.queue import job_queues

    queues = job_queues()
    ids = [job_id for queue in queues for job_id in queue.failed_job_registry.get_job_ids()[-limit:]]
    jobs = []
    for job in Job.fetch_many(ids, connection=queues[0].connection):
        if job is None:
            continue
        result = job.latest_result()
        error = (result.exc_string or "").strip().splitlines()[-1:] if result and result.exc_string else []
        jobs.append({"id": job.id, "func": job.func_name, "args": repr(job.args)[:200],
                     "ended_at": _aware(job.ended_at), "error": error[0] if error else ""})
    jobs.sort(key=lambda job: job["ended_at"].timestamp() if job["ended_at"] else 0, reverse=True)
    return jobs[:limit]


@dataclass
class AuditFilters:
    staff_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_log(filters: AuditFilters, before: int | None) -> Page:
    stmt = select(StaffAction)
    if filters.staff_id:
        stmt = stmt.where(StaffAction.staff_user_id == filters.staff_id)
    if filters.action:
        stmt = stmt.where(StaffAction.action == filters.action)
    if filters.target_type:
        stmt = stmt.where(StaffAction.target_type == filters.target_type)
    if filters.target_id:
        stmt = stmt.where(StaffAction.target_id == filters.target_id)
    if filters.since:
        stmt = stmt.where(StaffAction.created_at >= filters.since)
    if filters.until:
        stmt = stmt.where(StaffAction.created_at < filters.until)
    return keyset(stmt, StaffAction.id, before)


def staff_members() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == "staff").order_by(User.email)))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(StaffAction.action).distinct().order_by(StaffAction.action)))


# --- exports ----------------------------------------------------------------------------------------------------

EXPORT_BATCH = 1000


@dataclass(frozen=True)
class Export:
    """A CSV export: the model (by name), its columns, the money columns, fixed conditions (column -> value)."""

    model: str
    columns: tuple[str, ...]
    money: tuple[str, ...]
    where: dict


def export_rows(spec: Export, where: dict, since: datetime | None, until: datetime | None):
    """Plain rows (no ORM objects kept in the session) in id order, fetched in keyset batches, so a year of
    payments streams in constant memory."""
    import portal.models

    model = getattr(portal.models, spec.model)
    fields = [getattr(model, c) for c in spec.columns]
    last = 0
    while True:
        stmt = select(*fields).where(model.id > last, *(getattr(model, c) == v for c, v in where.items()))
        if since:
            stmt = stmt.where(model.created_at >= since)
        if until:
            stmt = stmt.where(model.created_at < until)
        batch = db.session.execute(stmt.order_by(model.id).limit(EXPORT_BATCH)).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def plans_for_change(sub: Subscription) -> list[Plan]:
    """The plans on sale in the subscription's currency: what staff may move it to (its own undoes a scheduled
    change)."""
    return list(db.session.scalars(select(Plan).where(Plan.status == "active", Plan.currency == sub.currency)
                                   .order_by(Plan.amount, Plan.id)))
