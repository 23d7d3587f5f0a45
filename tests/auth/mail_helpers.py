"""What a person does with the mails the portal sends, through the test client: sign up, read the mail
from the test SMTP server, open its link and post its form."""
from urllib.parse import urlsplit

from portal.accounts import find_by_email
from portal.extensions import db
from portal.models import User
from tests.auth.helpers import csrf_token
from tests.mailbox import run_jobs

EN = {"Accept-Language": "en"}


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def form_post(client, path, data, **kwargs):
    """Post a form as the browser would, with the session's CSRF token (from a page that always has one:
    a spent link's page has no form)."""
    token = csrf_token(client, "/auth/forgot")
    return client.post(path, data={**data, "csrf_token": token}, headers=EN, **kwargs)


def check_mail_page(client) -> str:
    """What the page says (its CSRF token differs per session)."""
    page = client.get("/auth/check-mail", headers=EN).get_data(as_text=True)
    return page.split('id="check-mail"')[1].split("</section>")[0]


def sign_up(client, email, password="long enough"):
    return form_post(client, "/auth/signup", {"email": email, "password": password, "password_again": password})


def mail_to(mailbox, email, count=1):
    return mailbox.wait_for(email, count=count, work=run_jobs)[count - 1]


def user(email) -> User:
    db.session.expire_all()
    return find_by_email(email)
