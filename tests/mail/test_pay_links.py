"""The signed pay link of a failed-payment mail (portal/mail/links.py), over HTTP to the served portal: it opens the
payment page of the one invoice it names, and no other invoice of that customer or of anyone else."""
import requests

from tests.factories import make_customer, make_invoice, make_subscription
from tests.mail.support import declined_renewal, renewal_invoice
from tests.mailbox import link_to


def visit(billing, session, path, **headers):
    return session.get(f"{billing.live.portal_url}{path}", allow_redirects=False, timeout=30, headers=headers)


def asks_to_sign_in(response):
    """A page redirects to the sign-in page; an htmx request is answered 401 (its client then redirects)."""
    if response.status_code == 401:
        return "RUB" not in response.text
    return response.status_code in (302, 303) and "/auth/login" in response.headers["Location"]


def test_a_pay_link_opens_the_payment_page_of_its_invoice_only(billing, mailbox):
    customer = make_customer("one.invoice@example.com")
    customer.locale = "en"
    sub = declined_renewal(billing, customer)
    [failed] = [m for m in mailbox.wait_for(customer.email, count=2, work=billing.work)
                if m["Subject"] == "Your payment did not go through"]
    renewal = renewal_invoice(sub.id)
    own_other = make_invoice(sub, status="open", kind="repay", amount=100)
    someone_elses = make_invoice(make_subscription(status="past_due", customer=make_customer()), status="open",
                                 kind="renewal")

    visitor = requests.Session()
    visitor.headers["Accept-Language"] = "en"
    opened = visitor.get(link_to(failed, "/mail/pay/"), allow_redirects=False, timeout=30)
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/account/pay/{renewal.id}")
    page = visit(billing, visitor, f"/account/pay/{renewal.id}")
    assert page.status_code == 200 and "RUB 299.00" in page.text and f"/account/pay/{renewal.id}/status" in page.text
    assert visit(billing, visitor, f"/account/pay/{renewal.id}/status", **{"HX-Request": "true"}).status_code == 200

    # The same visit, with the grant in its cookie, gets nothing else: not the customer's other open invoice, not
    # another customer's, not their statuses, not the account pages or the pay-now button.
    for invoice in (own_other, someone_elses):
        assert asks_to_sign_in(visit(billing, visitor, f"/account/pay/{invoice.id}"))
        assert asks_to_sign_in(visit(billing, visitor, f"/account/pay/{invoice.id}/status", **{"HX-Request": "true"}))
    assert asks_to_sign_in(visit(billing, visitor, "/account"))
    assert asks_to_sign_in(visit(billing, visitor, f"/account/subscriptions/{sub.id}"))
    assert asks_to_sign_in(visit(billing, visitor, f"/account/invoices/{renewal.id}"))
    pay_now = visitor.post(f"{billing.live.portal_url}/account/subscriptions/{sub.id}/pay-now", allow_redirects=False,
                           timeout=30)
    assert pay_now.status_code in (302, 303, 400, 401, 403) and renewal_invoice(sub.id).attempt_count == 1
    assert "RUB 1.00" not in visit(billing, visitor, f"/account/pay/{own_other.id}").text
