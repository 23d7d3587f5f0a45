"""`make run` as a user runs it: no services, SQLite under the instance folder, the plan page served."""
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from tests.auth.helpers import TOKEN

ROOT = Path(__file__).resolve().parent.parent
YOOKASSA_SHOP = ("smoke-shop", "test_smoke-secret")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_migrates_seeds_and_serves_the_plans(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SECRET_KEY", "FLASK_APP", "SMTP_URL", "MAIL_FROM")}
    env["PORTAL_INSTANCE"] = str(tmp_path)
    env["API_TOKENS"] = "smoke:smoke-token"
    env["YOOKASSA_SHOP_ID"], env["YOOKASSA_SECRET_KEY"] = YOOKASSA_SHOP
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/", headers={"Accept-Language": "ru"}, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        log.seek(0)
        output = log.read()
        assert page is not None, f"make run did not serve the portal:\n{output}"
        assert page.status_code == 200
        text = page.text.replace("\xa0", " ")
        assert "299,00 ₽" in text and "2 990,00 ₽" in text and "599,00 ₽" in text
        assert "customer@demo.cinema" in output  # the seeded logins are printed for the user
        assert (tmp_path / "portal.sqlite3").exists()
        assert_paying_through_the_mounted_sandbox_activates(f"http://127.0.0.1:{port}")
        assert_the_receipt_is_on_the_local_mail_page(f"http://127.0.0.1:{port}")
        assert_the_yookassa_sandbox_is_mounted_with_the_portals_shop(f"http://127.0.0.1:{port}")
        assert_a_new_customer_reads_the_verification_mail_on_the_local_page(f"http://127.0.0.1:{port}", tmp_path)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def assert_the_yookassa_sandbox_is_mounted_with_the_portals_shop(base):
    """/sandbox/yookassa: its API at /v3 takes the shop id and secret the portal is configured with, and
    its test pay endpoint pays a payment made there."""
    api = f"{base}/sandbox/yookassa/v3"
    assert requests.get(f"{api}/me", auth=YOOKASSA_SHOP, timeout=10).json()["account_id"] == YOOKASSA_SHOP[0]
    assert requests.get(f"{api}/me", auth=(YOOKASSA_SHOP[0], "wrong"), timeout=10).status_code == 401
    payment = requests.post(f"{api}/payments", auth=YOOKASSA_SHOP, timeout=10, headers={"Idempotence-Key": "smoke-1"},
                            json={"amount": {"value": "1.00", "currency": "RUB"},
                                  "confirmation": {"type": "embedded"}}).json()
    paid = requests.post(f"{base}/sandbox/yookassa/widget/pay", timeout=30, json={
        "confirmation_token": payment["confirmation"]["confirmation_token"],
        "card": {"number": "5555555555554444", "expiry_month": "12", "expiry_year": "2030", "csc": "123"}})
    assert paid.json()["status"] == "waiting_for_capture"  # capture defaults to false, as at YooKassa


def assert_paying_through_the_mounted_sandbox_activates(base):
    """The embedded default's whole loop: checkout, the in-process sandbox pays and notifies, the job runs
    in-process, and the customer is entitled within seconds."""
    auth = {"Authorization": "Bearer smoke-token"}
    checkout = requests.post(f"{base}/api/v1/pay", headers=auth, timeout=10, json={
        "customer": {"external_id": "smoke-1", "email": "smoke@example.com"}, "plan": "monthly"}).json()
    assert checkout["widget_script_url"] == f"{base}/sandbox/cloudpayments/widget.js"
    card = {"type": "charge", "cardNumber": "4000 0000 0000 3055", "expDate": "12/30", "cvv": "123"}
    paid = requests.post(f"{base}/sandbox/cloudpayments/widget/pay", json={**checkout["widget"], **card}, timeout=30)
    assert paid.json()["Success"] is True
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entitlement = requests.get(f"{base}/api/v1/customers/smoke-1/entitlement", headers=auth, timeout=10).json()
        if entitlement["entitled"]:
            break
        time.sleep(0.5)
    assert (entitlement["entitled"], entitlement["status"], entitlement["plan"]) == (True, "active", "monthly")


def assert_the_receipt_is_on_the_local_mail_page(base):
    """Billing mails need no bus and no worker process: the payment's receipt is built from its event by the
    in-process job and listed at /dev/mail, its link under the address make run serves."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        listing = requests.get(f"{base}/dev/mail", timeout=10).text
        if "Оплата получена" in listing:
            break
        time.sleep(0.5)
    assert "Оплата получена" in listing and "smoke@example.com" in listing
    name = re.search(r'href="/dev/mail/(\d+-payment_receipt\.eml)"', listing).group(1)
    receipt = requests.get(f"{base}/dev/mail/{name}", timeout=10).text
    assert f'<a href="{base}/account/payments/' in receipt and "299,00" in receipt


def assert_a_new_customer_reads_the_verification_mail_on_the_local_page(base, instance):
    """No SMTP server: the verification mail is an .eml file under the instance folder, listed at /dev/mail,
    and its link confirms the address."""
    browser = requests.Session()
    token = TOKEN.search(browser.get(f"{base}/auth/signup", timeout=10).text).group(1)
    signed_up = browser.post(f"{base}/auth/signup", timeout=10, data={
        "email": "first.look@example.com", "password": "long enough", "password_again": "long enough",
        "csrf_token": token}, headers={"Accept-Language": "en"})
    assert signed_up.status_code == 200 and signed_up.url == f"{base}/auth/check-mail"
    deadline, listing = time.monotonic() + 10, ""
    while time.monotonic() < deadline and "first.look@example.com" not in listing:
        listing = browser.get(f"{base}/dev/mail", timeout=10).text
        time.sleep(0.3)
    assert "first.look@example.com" in listing, listing
    assert list((instance / "mail").glob("*-verify_email.eml"))
    opened = browser.get(f"{base}/dev/mail/" + re.search(r'href="/dev/mail/([^"]+)"', listing).group(1), timeout=10)
    link = re.search(rf'<a href="({re.escape(base)}/auth/verify/[^"]+)">', opened.text).group(1)
    page = browser.get(link, timeout=10)
    confirmed = browser.post(link, timeout=10, data={"password": "long enough",
                                                     "csrf_token": TOKEN.search(page.text).group(1)})
    assert confirmed.url == f"{base}/account" and "first.look@example.com" in confirmed.text
