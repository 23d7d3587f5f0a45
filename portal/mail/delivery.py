"""Delivering stored mails: the first tries of a burst by one job over one SMTP connection (`deliver_new`), a retry
or a staff resend one mail per job (`deliver`); each outcome recorded on the row, retries found by the sweeper."""
import logging
import smtplib
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select

from portal import clock
from portal.extensions import db
from portal.machines import atomic, lock
from portal.mail import DELIVER_NEW_JOB, seller
from portal.mail.transport import PermanentRefusal, parse_smtp_url, send_smtp, smtp_connection, write_eml
from portal.models import OutgoingMail
from portal.queue import enqueue_each, nudge, nudged

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd, ... failed try; a mail failing MAX_ATTEMPTS times is given up.
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30),
           timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
# A try that started this long ago and never reported back died with its worker.
STALE_SENDING = timedelta(minutes=5)
MAIL_FOLDER = "mail"
# First tries taken by one job, over one connection.
FIRST_TRIES = 50
DUE = ("queued", "retrying")


def compose(mail: OutgoingMail) -> EmailMessage:
    sender = current_app.config["MAIL_FROM"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    domain = sender.rpartition("@")[2].strip(" >") or "localhost"
    message["Message-ID"] = f"<portal-mail-{mail.id}.{mail.purpose}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    support = seller()["support"]
    if support and support != parseaddr(sender)[1]:
        message["Reply-To"] = support
    if mail.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    message["Content-Language"] = mail.locale  # after the bodies: setting content clears Content-* headers
    return message


def mail_folder() -> Path:
    return Path(current_app.config["PORTAL_INSTANCE"]) / MAIL_FOLDER


def transmit(mail: OutgoingMail) -> None:
    url = current_app.config.get("SMTP_URL")
    if url:
        send_smtp(parse_smtp_url(url), compose(mail))
    else:  # the embedded default (a configured deployment cannot start without SMTP_URL)
        write_eml(mail_folder(), _eml_name(mail.id, mail.purpose), compose(mail))


def _eml_name(mail_id: int, purpose: str) -> str:
    return f"{mail_id:06d}-{purpose}.eml"


def deliver(mail_id: int) -> str:
    """Try to deliver one mail once. The row is claimed ("sending") and committed before the server is
    talked to, so no lock is held over the network, and a second job for the same mail finds it taken."""
    with atomic():
        mail = lock(OutgoingMail, mail_id, missing_ok=True)
        if mail is None or not _takes_a_try(mail, clock.now()):
            return mail.status if mail is not None else "missing"
        mail.status, mail.attempts, mail.last_attempt_at = "sending", mail.attempts + 1, clock.now()
    try:
        transmit(mail)
    except PermanentRefusal as exc:
        return _record(mail_id, "failed", f"refused: {exc}")
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("mail %s: try %s failed: %s", mail_id, mail.attempts, exc.__class__.__name__)
        return _record(mail_id, "retrying", f"{exc.__class__.__name__}: {exc}")
    return _record(mail_id, "sent", None)


def deliver_new(limit: int = FIRST_TRIES) -> int:
    """Job body: the first try of up to `limit` mails stored and never tried, over one SMTP connection (a burst of
    receipts is one conversation with the server, not a connection and a job each). Claimed ("sending") and
    committed before the server is talked to, as one mail alone is; a full batch queues the next job first, so
    other workers share a backlog. A mail the server refuses is recorded as one refused alone would be; a lost
    connection counts as a failed try for the mails it had not sent yet, which the sweeper retries with backoff.
    Returns how many mails it took."""
    nudged(DELIVER_NEW_JOB)
    with atomic():
        mails = db.session.scalars(select(OutgoingMail).where(OutgoingMail.status == "queued",
                                                              OutgoingMail.attempts == 0)
                                   .order_by(OutgoingMail.id).limit(limit).with_for_update(skip_locked=True)).all()
        if len(mails) == limit:
            nudge(DELIVER_NEW_JOB)
        now = clock.now()
        for mail in mails:
            mail.status, mail.attempts, mail.last_attempt_at = "sending", 1, now
        messages = [(mail.id, mail.purpose, compose(mail)) for mail in mails]
    if not messages:
        return 0
    outcomes = {}
    url = current_app.config.get("SMTP_URL")
    try:
        with _sender(url) as send:
            for mail_id, purpose, message in messages:
                try:
                    send(mail_id, purpose, message)
                except PermanentRefusal as exc:
                    outcomes[mail_id] = ("failed", f"refused: {exc}")
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                    outcomes[mail_id] = ("retrying", f"{exc.__class__.__name__}: {exc}")
                else:
                    outcomes[mail_id] = ("sent", None)
    except (smtplib.SMTPException, OSError) as exc:  # the connection: every mail it had not sent yet is retried
        log.warning("mail: the connection for %d first tries failed: %s", len(messages), exc.__class__.__name__)
        for mail_id, _, _ in messages:
            outcomes.setdefault(mail_id, ("retrying", f"{exc.__class__.__name__}: {exc}"))
    with atomic():
        for mail_id, (outcome, error) in outcomes.items():
            _record_outcome(lock(OutgoingMail, mail_id), outcome, error)
    return len(messages)


@contextmanager
def _sender(url):
    if url:
        with smtp_connection(parse_smtp_url(url)) as send:
            yield lambda mail_id, purpose, message: send(message)
    else:  # the embedded default
        yield lambda mail_id, purpose, message: write_eml(mail_folder(), _eml_name(mail_id, purpose), message)


def _takes_a_try(mail: OutgoingMail, now) -> bool:
    if mail.status in DUE:
        return True
    return mail.status == "sending" and mail.last_attempt_at is not None and mail.last_attempt_at <= now - STALE_SENDING


def _record(mail_id: int, outcome: str, error: str | None) -> str:
    with atomic():
        return _record_outcome(lock(OutgoingMail, mail_id), outcome, error)


def _record_outcome(mail: OutgoingMail, outcome: str, error: str | None) -> str:
    now = clock.now()
    if outcome == "sent":
        mail.status, mail.sent_at = "sent", now
    elif outcome == "retrying" and mail.attempts < MAX_ATTEMPTS:
        mail.status, mail.next_attempt_at = "retrying", now + BACKOFF[mail.attempts - 1]
    else:
        mail.status = "failed"
    if error is not None:
        mail.last_error = error[:2000]
    return mail.status


def sweep(now=None) -> int:
    """Hand every mail that is due a try to a job: a retry whose wait is over, a first try whose job
    was lost, a try whose worker died. The job id is the mail's, so a waiting job is not doubled."""
    now = now or clock.now()
    due = db.session.scalars(select(OutgoingMail.id).where(or_(
        and_(OutgoingMail.status.in_(DUE), OutgoingMail.next_attempt_at <= now),
        and_(OutgoingMail.status == "sending", OutgoingMail.last_attempt_at <= now - STALE_SENDING),
    )).order_by(OutgoingMail.id).limit(1000)).all()
    if due:
        enqueue_each("workers.mail.deliver", [(f"mail-{mail_id}", (mail_id,)) for mail_id in due])
    return len(due)


def undelivered(limit: int = 50) -> list[OutgoingMail]:
    """For staff: mails given up, and mails still being retried (their delivery or their build), newest first."""
    return db.session.scalars(select(OutgoingMail).where(OutgoingMail.status.in_(("failed", "retrying", "unbuilt")))
                              .order_by(OutgoingMail.id.desc()).limit(limit)).all()
