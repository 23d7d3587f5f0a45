"""Checking a sign-in's email and password with the same work whether the account exists or not: an unknown
email is checked against a dummy scrypt hash, so the answer's timing does not tell who has an account."""
import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from portal.accounts import find_by_email, password_matches
from portal.models import User


@cache
def dummy_password_hash() -> str:
    # Made like every real one (set_password), once per process, of a password nobody knows.
    return generate_password_hash(secrets.token_urlsafe(24), method="scrypt")


def check_credentials(email: str | None, password: str) -> User | None:
    """The account this email and password sign in to, or None; one scrypt check either way."""
    user = find_by_email(email) if email else None
    if user is None or user.anonymized_at is not None or not user.password_hash:
        check_password_hash(dummy_password_hash(), password)
        return None
    return user if password_matches(user, password) else None
