"""Staff and a customer's mails: the list on the customer page (purpose, status, time, error) and sending
one again, written to the staff audit log. A resent mail is a new row (its own tries and error), the
original stays as it was."""
from sqlalchemy import select

from portal import clock
from portal.admin.actions import Staff, audit
from portal.billing.errors import NotFound
from portal.extensions import db
from portal.mail import FIRST_TRY_GRACE, store
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
