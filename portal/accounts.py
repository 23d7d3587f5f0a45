"""Customer and staff accounts: creation, lookup and password checks."""
import secrets

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from portal import clock
from portal.extensions import db
from portal.models import User


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ValueError(f"not an email address: {email!r}")
    return email


def parse_email(raw: str | None) -> str | None:
    """A form's email field, normalised; None when it is no email address or longer than one can be."""
    try:
        email = normalise_email(raw)
    except ValueError:
        return None
    return email if len(email) <= 320 else None


def find_by_email(email: str) -> User | None:
    """The account that signs in with this address. A web account and the platform's customer share an
    address only while the web account's is unproven (portal/account_email.py): then it is the web
    account, the one with the password its owner chose."""
    return db.session.scalars(select(User).where(User.email == normalise_email(email))
                              .order_by(User.external_id.is_not(None), User.id).limit(1)).first()


def set_password(user: User, password: str) -> None:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    user.password_hash = generate_password_hash(password, method="scrypt")


def password_matches(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def ensure_user(email: str, *, password: str | None, role: str = "customer", name: str = "",
                external_id: str | None = None, verified: bool = False) -> tuple[User, bool]:
    """The account for this email, created when missing. Returns (user, created); an existing account's
    password and role are left alone, so running this twice changes nothing. `verified`: whoever creates
    it vouches for the address (staff on the command line, the demo seed); a sign-up proves it by mail."""
    user = find_by_email(email)
    if user is not None:
        return user, False
    user = User(email=normalise_email(email), role=role, name=name, external_id=external_id,
                email_verified_at=clock.now() if verified else None)
    set_password(user, password or secrets.token_urlsafe(12))
    db.session.add(user)
    db.session.flush()
    return user, True
