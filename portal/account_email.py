"""Proving who reads an address: the signed links of email verification, password reset and email change,
the mails that carry them, and what a proven address does to the accounts that hold it.

A link proves the mailbox; a password proves the account. Confirming an address for an account takes
both (the link, opened by someone signed in to that account or giving its password), so a person who
clicks a link in a mail they never asked for attaches nothing to a stranger's account. A password reset
takes the link alone: it replaces the password, so whoever set the old one loses the account."""
import hashlib
import hmac
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from portal import clock
from portal.accounts import ensure_user, find_by_email, normalise_email, set_password
from portal.extensions import db
from portal.machines import lock
from portal.mail import link_to, queue_mail
from portal.models import Subscription, Transition, User
from portal.models.entitlement import entitlements_changed

VERIFY_FOR = timedelta(hours=48)
RESET_FOR = timedelta(hours=1)
CHANGE_FOR = timedelta(hours=24)
# A person pressing "send" twice within this window gets one mail (and a mailbox is not flooded).
RESEND_WINDOW_SECONDS = 60

LINK_BROKEN = _l("This link is not one of ours or was cut short: copy the whole address from the mail.")
LINK_EXPIRED = _l("This link has expired. Ask for a new one.")
LINK_USED = _l("This link has been used already or no longer applies.")
ADDRESS_TAKEN = _l("This address belongs to another account.")


class LinkRefused(Exception):
    """The link is broken, expired or used; or the address it names is no longer free. The message
    says which, for the page."""


class _ClockSigner(TimestampSigner):
    """Links age by billing's clock, so tests and demos that move time expire them too."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal-accounts-{purpose}",
                                  signer=_ClockSigner)


def _password_stamp(user: User) -> str:
    """Changes whenever the password does: a reset link dies once used (or once the password changes)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"reset|{user.id}|{user.password_hash or ''}".encode(), hashlib.sha256).hexdigest()[:24]


def _window() -> int:
    return int(clock.now().timestamp()) // RESEND_WINDOW_SECONDS


def _load(purpose: str, token: str, valid_for: timedelta) -> dict:
    try:
        data = _serializer(purpose).loads(token, max_age=int(valid_for.total_seconds()))
    except SignatureExpired:
        raise LinkRefused(LINK_EXPIRED) from None
    except BadSignature:
        raise LinkRefused(LINK_BROKEN) from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise LinkRefused(LINK_BROKEN)
    return data


def _user(data: dict) -> User:
    user = db.session.get(User, data["u"])
    if user is None or user.anonymized_at is not None or user.email is None:
        raise LinkRefused(LINK_USED)
    return user


# --- sign-up and verification -------------------------------------------------------------------


def sign_up(email: str, password: str, *, locale: str) -> User | None:
    """A sign-up answers the same whether the address is taken or not: a new account gets a verification
    link, the holder of a taken address a "you already have an account" mail (and nothing changes). The
    password is hashed either way, so the two take the same time. Returns the new account, if any."""
    email = normalise_email(email)
    holder = find_by_email(email)
    if holder is None:
        try:
            with db.session.begin_nested():
                user, _ = ensure_user(email, password=password)
                user.locale = locale
        except IntegrityError:  # the same address signed up at this very moment by another request
            holder = find_by_email(email)
        else:
            send_verification(user, initial=True)
            return user
    generate_password_hash(password, method="scrypt")  # the work of a real sign-up; the result is dropped
    queue_mail("account_exists", f"{email}:{_window()}", to=email, locale=holder.locale or locale, user_id=holder.id,
               sign_in_link=link_to("auth.login"), reset_link=_reset_link(holder),
               minutes=int(RESET_FOR.total_seconds() // 60))
    return None


def send_verification(user: User, *, initial: bool = False) -> None:
    token = _serializer("verify").dumps({"u": user.id, "e": user.email})
    key = f"user:{user.id}:{user.email}" + ("" if initial else f":{_window()}")
    queue_mail("verify_email", key, to=user.email, locale=user.locale, user_id=user.id,
               link=link_to("auth.verify_email", token=token), hours=int(VERIFY_FOR.total_seconds() // 3600))


def verification_target(token: str) -> User:
    """The account a verification link is for, while the link still works (it works once)."""
    data = _load("verify", token, VERIFY_FOR)
    user = _user(data)
    if user.email != data.get("e") or user.email_verified_at is not None:
        raise LinkRefused(LINK_USED)
    return user


def verify_email(token: str, *, actor: str) -> User:
    """The account's address is proven. Returns the account the person uses from now on: the platform's
    customer of this address if there is one (see `prove_address`)."""
    return prove_address(verification_target(token), actor=actor)


def prove_address(user: User, *, actor: str) -> User:
    """The owner of `user.email` has shown they read its mail (and, for a web account, knows its password
    or has just chosen it). A web account of this address and the platform's customer of it are then one
    person: they become one account, the platform's customer."""
    user = lock(User, user.id)
    user.email_verified_at = user.email_verified_at or clock.now()
    if user.external_id is not None or user.role != "customer":
        return user
    platform = db.session.scalar(select(User).where(User.email == user.email, User.external_id.is_not(None),
                                                    User.id != user.id).with_for_update())
    return merge_web_account(user, into=platform, actor=actor) if platform is not None else user


def merge_web_account(web: User, *, into: User, actor: str) -> User:
    """The web account joins the platform's customer of the same, now proven, address. The platform's
    record wins: its external id is how the platform asks about entitlement and addresses commands, and
    its row is what events, staff links and the audit already name. The web account brings its sign-in
    (password, language) and whatever it bought; its own row goes."""
    from portal.auth.session import end_all_sessions

    now = clock.now()
    end_all_sessions(web, reason="joined the platform's customer")
    kept = {(card.provider, card.token_fingerprint): card for card in into.payment_methods}
    for card in list(web.payment_methods):
        same = kept.get((card.provider, card.token_fingerprint))
        if same is not None:
            # The same card saved by both: one row stays, the subscriptions charging the other follow it.
            db.session.execute(update(Subscription).where(Subscription.payment_method_id == card.id)
                               .values(payment_method_id=same.id))
            web.payment_methods.remove(card)
            db.session.delete(card)
    db.session.flush()
    db.session.expire(web, ["payment_methods"])
    # Everything else that names the web account (subscriptions, invoices, payments, cards, its ended
    # sessions, and whatever table refers to users later) now names the platform's customer.
    for table in db.metadata.sorted_tables:
        if table.info.get("read_model"):
            continue  # derived rows, rewritten at commit (below)
        for fk in table.foreign_keys:
            if fk.column is User.__table__.c.id:
                db.session.execute(update(table).where(fk.parent == web.id).values({fk.parent.name: into.id}))
    into.password_hash = web.password_hash
    into.locale = into.locale or web.locale
    into.name = into.name or web.name
    into.email_verified_at = now
    db.session.add(Transition(entity_type="customer", entity_id=into.id, from_state="separate",
                              to_state="merged", event="web_account_proved_address", actor=actor,
                              cause=f"web account {web.id} proved {into.email}"))
    # The subscriptions moved without the ORM seeing them: the platform customer's entitlement changes.
    entitlements_changed(db.session, into.id, web.id)
    db.session.flush()
    db.session.delete(web)
    db.session.flush()
    db.session.expire(into)
    return into


# --- password reset -------------------------------------------------------------------------------


def _reset_link(user: User) -> str:
    token = _serializer("reset").dumps({"u": user.id, "s": _password_stamp(user)})
    return link_to("auth.reset_password", token=token)


def request_password_reset(email: str, *, locale: str) -> None:
    """A reset link to the address if an account uses it; nothing (and the same answer) otherwise."""
    try:
        email = normalise_email(email)
    except ValueError:
        return
    user = find_by_email(email)
    if user is None:
        return
    queue_mail("password_reset", f"user:{user.id}:{_window()}", to=email, locale=user.locale or locale, user_id=user.id,
               link=_reset_link(user), minutes=int(RESET_FOR.total_seconds() // 60))


def reset_target(token: str) -> User:
    data = _load("reset", token, RESET_FOR)
    user = _user(data)
    if not hmac.compare_digest(str(data.get("s", "")), _password_stamp(user)):
        raise LinkRefused(LINK_USED)
    return user


def reset_password(token: str, new_password: str, *, actor: str) -> User:
    """The new password; every session of the account ends with it (server-side, in this transaction),
    and the link is spent with the old password. Opening the link proves the address too."""
    from portal.auth.session import end_all_sessions

    user = lock(User, reset_target(token).id)
    set_password(user, new_password)
    end_all_sessions(user, reason="password reset")
    return prove_address(user, actor=actor)


# --- email change -------------------------------------------------------------------------------


def request_email_change(user: User, new_email: str) -> str:
    """A confirmation link to the new address; the account keeps the old one until it is opened."""
    new_email = normalise_email(new_email)
    token = _serializer("change").dumps({"u": user.id, "from": user.email, "to": new_email})
    queue_mail("email_change", f"user:{user.id}:{new_email}:{_window()}", to=new_email, locale=user.locale,
               user_id=user.id,
               link=link_to("auth.confirm_email_change", token=token), new_email=new_email,
               hours=int(CHANGE_FOR.total_seconds() // 3600))
    return new_email


def email_change_target(token: str) -> tuple[User, str]:
    data = _load("change", token, CHANGE_FOR)
    user = _user(data)
    if user.email != data.get("from") or not isinstance(data.get("to"), str):
        raise LinkRefused(LINK_USED)
    return user, data["to"]


def confirm_email_change(token: str, *, actor: str) -> User:
    """The account moves to the new, now proven, address and the old address is told. A new address held
    by another account stays with it (refused); held by the platform's customer, it joins it."""
    user, new_email = email_change_target(token)
    user = lock(User, user.id)
    others = db.session.scalars(select(User).where(User.email == new_email, User.id != user.id)).all()
    if any(o.external_id is None or user.external_id is not None for o in others):
        raise LinkRefused(ADDRESS_TAKEN)
    old_email = user.email
    user.email, user.email_verified_at = new_email, None
    db.session.flush()
    queue_mail("email_changed", f"user:{user.id}:{old_email}:{new_email}", to=old_email, locale=user.locale,
               user_id=user.id,
               new_email=new_email, reset_page=link_to("auth.forgot_password"))
    return prove_address(user, actor=actor)
