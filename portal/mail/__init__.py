"""Mail to people, as a component: a mail is composed and stored (outgoing_mails) in the transaction
that decides to send it, and delivered by a job once that transaction commits — over SMTP (SMTP_URL), or
in the embedded default into instance/mail/ for the local page /dev/mail. Tries are counted, failures
retried with backoff and given up after a bound; staff see those on the operations page."""
from contextlib import contextmanager
from datetime import timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import clock
from portal.extensions import db
from portal.models import OutgoingMail
from portal.queue import nudge

# What each mail is called in its reader's language; its bodies are templates/mail/<purpose>.{txt,html}.
SUBJECTS = {
    "verify_email": _l("Confirm your email address"),
    "account_exists": _l("You already have an account"),
    "password_reset": _l("Reset your password"),
    "email_change": _l("Confirm your new email address"),
    "email_changed": _l("The email address of your account was changed"),
    # Billing mails (portal/mail/billing.py), built from domain events by a job.
    "payment_receipt": _l("Payment received"),
    "payment_failed": _l("Your payment did not go through"),
    "subscription_renewed": _l("Your subscription is extended"),
    "subscription_canceled": _l("Your subscription is canceled"),
    "subscription_expired": _l("Your subscription has ended"),
    "subscription_plan_changed": _l("Your plan has changed"),
    "subscription_paused": _l("Your subscription is paused"),
    "price_change": _l("Your subscription's price is changing"),
    "refund_succeeded": _l("Your refund is on its way"),
    "trial_ending": _l("Your free trial ends in 3 days"),
    "renewal_upcoming": _l("Your yearly subscription renews in 7 days"),
    "card_expiring": _l("Your card expires before the next payment"),
    # Asked for by the platform or staff (portal/billing/pay_requests.py), not built from an event.
    "checkout_request": _l("Your subscription is ready to start"),
    "card_check_request": _l("Replace the card of your subscription"),
}
# The sweeper hands a queued mail to a job only if the one enqueued at commit has not taken it by then.
FIRST_TRY_GRACE = timedelta(seconds=60)
DELIVER_NEW_JOB = "workers.mail.deliver_new"
# session.info keys: the mails of the open mail_batch by (purpose, subject key); mails stored, to deliver at commit.
_BATCH = "mail_batch"
_TO_DELIVER = "mails_to_deliver"


def mail_locale(locale: str | None) -> str:
    """The reader's language; unknown (a customer the platform created), the one they are browsing in."""
    if locale is None and has_request_context():
        from portal.templating import current_locale

        locale = current_locale()
    return locale if locale in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def link_to(endpoint: str, **values) -> str:
    """An absolute link for a mail: under PUBLIC_URL (always set but in an embedded default started
    without it), else the address this request came to."""
    base = current_app.config.get("PUBLIC_URL")
    if base:  # built without the request, so a job (no request at all) makes the same links
        parts = urlsplit(base)
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path.rstrip("/") or "/",
                                           url_scheme=parts.scheme)
        return adapter.build(endpoint, values, force_external=True)
    return url_for(endpoint, _external=True, **values)


def seller() -> dict:
    """Who a mail says it comes from and where questions go: SELLER_NAME and SUPPORT_EMAIL, else the name
    and address of MAIL_FROM."""
    name, address = parseaddr(current_app.config["MAIL_FROM"])
    return {"name": current_app.config.get("SELLER_NAME") or name or address,
            "support": current_app.config.get("SUPPORT_EMAIL") or address}


def queue_mail(purpose: str, subject_key: str, *, to: str, locale: str | None, user_id: int | None = None,
               unsubscribe_url: str | None = None, template: str | None = None, **context) -> OutgoingMail:
    """Compose the mail in the reader's language and store it in the current transaction; its delivery
    job is enqueued when that transaction commits. The same purpose and subject twice is one mail.
    `template` names the bodies (templates/mail/<template>.{txt,html}), by default the purpose's."""
    existing = _existing(purpose, subject_key)
    if existing is not None:
        return existing
    locale = mail_locale(locale)
    template = template or purpose
    with force_locale(locale):
        subject = str(SUBJECTS[purpose])
        context = {"seller": seller(), "unsubscribe_url": unsubscribe_url, "subject": subject, "locale": locale,
                   **context}
        mail = OutgoingMail(
            purpose=purpose, subject_key=subject_key, to_address=to, locale=locale, status="queued",
            subject=subject, attempts=0, user_id=user_id, unsubscribe_url=unsubscribe_url,
            text_body=render_template(f"mail/{template}.txt", **context),
            html_body=render_template(f"mail/{template}.html", **context),
            next_attempt_at=clock.now() + FIRST_TRY_GRACE,
        )
    return store(mail) or _existing(purpose, subject_key)


def store(mail: OutgoingMail) -> OutgoingMail | None:
    """Add a composed mail and have it delivered after commit; None when its purpose and subject were
    queued by a concurrent transaction meanwhile (the unique key kept it one mail). Inside `mail_batch`
    the mail is kept for the batch's one INSERT."""
    batch = db.session.info.get(_BATCH)
    if batch is not None:
        batch[(mail.purpose, mail.subject_key)] = mail
        return mail
    try:
        with db.session.begin_nested():
            db.session.add(mail)
    except IntegrityError:
        return None
    _deliver_after_commit()
    return mail


@contextmanager
def mail_batch():
    """Mails composed inside are written together when the block ends, by one INSERT that skips any whose
    purpose and subject are stored already (built before, or by a concurrent transaction): what a statement
    per mail, and a savepoint each, would do one by one. Two mails of one purpose and subject in the batch
    are one."""
    info = db.session.info
    info[_BATCH] = batch = {}
    try:
        yield
    finally:
        info.pop(_BATCH, None)
    if batch and _insert_new(list(batch.values())):
        _deliver_after_commit()


def _insert_new(mails: list[OutgoingMail]) -> list[int]:
    """INSERT ... ON CONFLICT DO NOTHING of composed (not added) mails; the ids of those written."""
    table = OutgoingMail.__table__
    now = clock.now()
    rows = []
    for mail in mails:
        row = {column.key: getattr(mail, column.key) for column in table.columns if column.key != "id"}
        row.update(status=mail.status or "queued", attempts=mail.attempts or 0, created_at=mail.created_at or now)
        rows.append(row)
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return db.session.scalars(dialect.insert(table).values(rows).on_conflict_do_nothing(
        index_elements=["purpose", "subject_key"]).returning(table.c.id)).all()


def _deliver_after_commit() -> None:
    """Once the transaction commits, one job takes the first tries of every mail stored meanwhile."""
    session = db.session()
    if not session.in_transaction():
        session.begin()
    session.info[_TO_DELIVER] = current_app._get_current_object()


@event.listens_for(Session, "after_commit")
def _enqueue_deliveries(session):
    app = session.info.pop(_TO_DELIVER, None)
    if app is not None:
        with app.app_context():
            nudge(DELIVER_NEW_JOB)


@event.listens_for(Session, "after_soft_rollback")
def _forget_deliveries(session, previous_transaction):
    if not previous_transaction.nested:
        session.info.pop(_TO_DELIVER, None)


def erase_mails_of(user_id: int) -> None:
    """A deleted customer's stored mails keep their purpose, status and times for staff, not the address
    or what they said; one not delivered yet is never sent. In the caller's transaction."""
    now = clock.now()
    db.session.execute(update(OutgoingMail).where(OutgoingMail.user_id == user_id, OutgoingMail.status.in_(
        ("queued", "retrying", "sending", "unbuilt"))).values(status="failed", last_error="the customer was deleted"))
    db.session.execute(update(OutgoingMail).where(OutgoingMail.user_id == user_id).values(
        to_address="", text_body="", html_body="", unsubscribe_url=None, next_attempt_at=now))


def _existing(purpose, subject_key):
    batch = db.session.info.get(_BATCH)
    if batch is not None:  # what is stored already is skipped by the batch's INSERT
        return batch.get((purpose, subject_key))
    return db.session.scalar(select(OutgoingMail).where(OutgoingMail.purpose == purpose,
                                                        OutgoingMail.subject_key == subject_key))


def init_app(app):
    if app.config.get("EMBEDDED") and not app.config.get("SMTP_URL"):
        from portal.mail.dev import bp as dev_mail_bp

        app.register_blueprint(dev_mail_bp)
    from portal.mail.routes import bp as billing_mail_bp
    from portal.security import csrf_exempt

    app.register_blueprint(billing_mail_bp)
    # One-click unsubscribe (RFC 8058) is posted by the mail provider, with the signed link as its proof.
    csrf_exempt(app, "billing_mail.unsubscribe")
