"""Mail to people, as a component: a mail is composed and stored (outgoing_mails) in the transaction
that decides to send it, and delivered by a job once that transaction commits — over SMTP (SMTP_URL), or
in the embedded default into instance/mail/ for the local page /dev/mail. Tries are counted, failures
retried with backoff and given up after a bound; staff see those on the operations page."""
from datetime import timedelta

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.extensions import db
from portal.models import OutgoingMail
from portal.queue import enqueue_after_commit

# What each mail is called in its reader's language; its bodies are templates/mail/<purpose>.{txt,html}.
SUBJECTS = {
    "verify_email": _l("Confirm your email address"),
    "account_exists": _l("You already have an account"),
    "password_reset": _l("Reset your password"),
    "email_change": _l("Confirm your new email address"),
    "email_changed": _l("The email address of your account was changed"),
}
# The sweeper hands a queued mail to a job only if the one enqueued at commit has not taken it by then.
FIRST_TRY_GRACE = timedelta(seconds=60)
DELIVER_JOB = "workers.mail.deliver"


def mail_locale(locale: str | None) -> str:
    """The reader's language; unknown (a customer the platform created), the one they are browsing in."""
    if locale is None and has_request_context():
        from portal.templating import current_locale

        locale = current_locale()
    return locale if locale in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def link_to(endpoint: str, **values) -> str:
    """An absolute link for a mail: under PUBLIC_URL when set, else the address this request came to."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def queue_mail(purpose: str, subject_key: str, *, to: str, locale: str | None, **context) -> OutgoingMail:
    """Compose the mail in the reader's language and store it in the current transaction; its delivery
    job is enqueued when that transaction commits. The same purpose and subject twice is one mail."""
    existing = _existing(purpose, subject_key)
    if existing is not None:
        return existing
    locale = mail_locale(locale)
    with force_locale(locale):
        mail = OutgoingMail(
            purpose=purpose, subject_key=subject_key, to_address=to, locale=locale, status="queued",
            subject=str(SUBJECTS[purpose]), attempts=0,
            text_body=render_template(f"mail/{purpose}.txt", **context),
            html_body=render_template(f"mail/{purpose}.html", subject=str(SUBJECTS[purpose]), **context),
            next_attempt_at=clock.now() + FIRST_TRY_GRACE,
        )
    try:
        with db.session.begin_nested():
            db.session.add(mail)
    except IntegrityError:
        return _existing(purpose, subject_key)  # queued by a concurrent transaction meanwhile
    enqueue_after_commit(db.session(), DELIVER_JOB, mail.id, job_id=f"mail-{mail.id}")
    return mail


def _existing(purpose, subject_key):
    return db.session.scalar(select(OutgoingMail).where(OutgoingMail.purpose == purpose,
                                                        OutgoingMail.subject_key == subject_key))


def init_app(app):
    if app.config.get("EMBEDDED") and not app.config.get("SMTP_URL"):
        from portal.mail.dev import bp as dev_mail_bp

        app.register_blueprint(dev_mail_bp)
