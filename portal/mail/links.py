"""The signed links billing mails carry: a pay link for one invoice, and the reminders' unsubscribe link.

A pay link lets its holder in to the payment page of that one invoice, for a while, without the password
(`PAY_LINK_FOR`). Why not ask for the password first: the customer who gets this mail is the one whose
card was just declined, often on a phone, and many of them (the platform's customers) never set a portal
password at all; every step between the mail and the widget loses payments. What the link gives is
narrow: it opens the pay page and its status of the invoice it names, nothing else (no account page, no
cancel, no card data, no history), and paying someone's balance helps them. It is not a sign-in: the
visit holds a grant for that invoice in its session cookie, and any other page still asks to sign in.

An unsubscribe link turns reminders off for its customer and never expires: RFC 8058 one-click
unsubscribing must keep working for as long as the mails it came in are read."""
from datetime import timedelta

from flask import session

from portal import clock
from portal.account_email import LINK_BROKEN, LinkRefused, _load, _serializer
from portal.extensions import db
from portal.mail import link_to
from portal.models import Invoice, User

PAY_LINK_FOR = timedelta(days=7)
# The grant a pay link gives one visit, kept in its session: invoice id -> (customer id, until).
PAY_GRANTS = "pay_link_grants"
MAX_GRANTS = 5
FOREVER = timedelta(days=365 * 100)


def pay_link(invoice: Invoice) -> str:
    token = _serializer("pay").dumps({"u": invoice.customer_id, "i": invoice.id})
    return link_to("billing_mail.pay", token=token)


def open_pay_link(token: str) -> Invoice:
    """The invoice a pay link is for, granted to this visit; LinkRefused when broken or expired."""
    data = _load("pay", token, PAY_LINK_FOR)
    invoice = db.session.get(Invoice, data.get("i")) if isinstance(data.get("i"), int) else None
    if invoice is None or invoice.customer_id != data["u"]:
        raise LinkRefused(LINK_BROKEN)
    grants = {k: v for k, v in session.get(PAY_GRANTS, {}).items() if v[1] > clock.now().timestamp()}
    grants[str(invoice.id)] = (invoice.customer_id, (clock.now() + PAY_LINK_FOR).timestamp())
    session[PAY_GRANTS] = dict(list(grants.items())[-MAX_GRANTS:])
    return invoice


def granted_payer(invoice_id: int) -> User | None:
    """The customer a pay link opened this invoice's payment page for in this visit, while the grant lasts."""
    grant = session.get(PAY_GRANTS, {}).get(str(invoice_id))
    if not grant or grant[1] <= clock.now().timestamp():
        return None
    return db.session.get(User, grant[0])


def unsubscribe_link(user: User) -> str:
    return link_to("billing_mail.unsubscribe", token=_serializer("unsubscribe").dumps({"u": user.id}))


def unsubscribe_target(token: str) -> User:
    data = _load("unsubscribe", token, FOREVER)
    user = db.session.get(User, data["u"])
    if user is None:
        raise LinkRefused(LINK_BROKEN)
    return user
