"""Staff and a customer's mails: the list on the customer page (purpose, status, time, error) and sending
one again, written to the staff audit log. A resent mail is a new row (its own tries and error), the
original stays as it was. A mail that could not be built (a build-failure record, portal/mail/events.py) is
built again from its event instead: its record is due at once and the mail dispatcher is nudged."""
from flask_babel import gettext as _
from sqlalchemy import select

from portal import clock
from portal.admin.actions import Staff, audit
from portal.billing.errors import NotAllowed, NotFound
from portal.extensions import db
from portal.machines import lock
from portal.mail import FIRST_TRY_GRACE, store
from portal.mail.events import events_written
from portal.models import OutgoingMail, User

LISTED = 50


def customer_mails(customer_id: int) -> list[OutgoingMail]:
    return db.session.scalars(select(OutgoingMail).where(OutgoingMail.user_id == customer_id)
                              .order_by(OutgoingMail.id.desc()).limit(LISTED)).all()


def resend(staff: Staff, mail_id: int) -> OutgoingMail:
    """The same mail again, to the customer's address now (they may have changed it since)."""
    original = db.session.get(OutgoingMail, mail_id)
    if original is None:
        raise NotFound(f"mail {mail_id} does not exist")
    if original.is_build_record:
        raise NotAllowed(_("Mail #%(id)s was never built: build it again instead.", id=mail_id))
    user = db.session.get(User, original.user_id) if original.user_id is not None else None
    to = user.email if user is not None and user.email else original.to_address
    row = audit(staff, "mail.resend", "mail", original.id, {"purpose": original.purpose, "to": to,
                                                             "user_id": original.user_id})
    copy = OutgoingMail(purpose=original.purpose, subject_key=f"{original.subject_key}:resend:{row.id}"[-200:],
                        to_address=to, locale=original.locale, subject=original.subject,
                        text_body=original.text_body, html_body=original.html_body, user_id=original.user_id,
                        unsubscribe_url=original.unsubscribe_url, status="queued", attempts=0,
                        next_attempt_at=clock.now() + FIRST_TRY_GRACE)
    store(copy)
    row.details = {**row.details, "mail_id": copy.id}
    db.session.commit()
    return copy


def rebuild(staff: Staff, mail_id: int) -> OutgoingMail:
    """One more build of the mails of a build-failure record's event, by the mail dispatcher's job: the try
    is counted like the automatic ones, and its error (if it fails again) replaces the record's."""
    record = lock(OutgoingMail, mail_id, missing_ok=True)
    if record is None or not record.is_build_record:
        raise NotFound(f"mail {mail_id} is no mail that failed to build")
    if record.status not in ("unbuilt", "failed"):
        raise NotAllowed(_("Mail #%(id)s is %(status)s: its mail was built, resend that one.", id=mail_id,
                           status=record.status))
    audit(staff, "mail.rebuild", "mail", record.id, {"purpose": record.purpose, "event_id": record.event_id,
                                                     "user_id": record.user_id, "was": record.status})
    record.status, record.next_attempt_at = "unbuilt", clock.now()
    events_written(db.session())
    db.session.commit()
    return record
