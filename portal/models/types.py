"""Column types shared by the models: aware UTC times, JSON, encrypted provider tokens and bodies."""
import base64
import hashlib
import json
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

# JSONB on PostgreSQL (indexable, compact), plain JSON on the embedded SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")
# 64-bit ids for the high-volume logs; SQLite only autoincrements a plain INTEGER key.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on the way in and out; SQLite forgets the zone, so we put it back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; billing times are aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _fernet():
    key = current_app.config.get("TOKEN_ENCRYPTION_KEY")
    return _fernet_for(key, None if key else current_app.config["SECRET_KEY"])


@lru_cache(maxsize=8)
def _fernet_for(key, secret_key):
    # Built once per key: every stored notification is sealed with it on the ingest path.
    if not key:
        # Derived from SECRET_KEY so a deployment needs one secret at least; a dedicated key
        # (TOKEN_ENCRYPTION_KEY, a Fernet key) lets the two be rotated separately.
        digest = hashlib.sha256(("card-token:" + secret_key).encode()).digest()
        key = base64.urlsafe_b64encode(digest)
    return Fernet(key)


class EncryptedToken(TypeDecorator):
    """A provider's saved-card token, encrypted at rest."""

    impl = String(512)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return _fernet().encrypt(value.encode()).decode()

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return _fernet().decrypt(value.encode()).decode()


def seal(data: bytes) -> bytes:
    """Encrypt bytes for storage with the card-token key (provider bodies carry the card token)."""
    return _fernet().encrypt(data)


def unseal(sealed: bytes) -> bytes:
    return _fernet().decrypt(bytes(sealed))


class EncryptedBytes(TypeDecorator):
    """Bytes encrypted at rest: a provider notification's body, which carries the card token."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else seal(bytes(value))

    def process_result_value(self, value, dialect):
        return None if value is None else unseal(value)


class EncryptedJson(TypeDecorator):
    """A JSON document encrypted at rest: a provider's transaction as it reported it (token included).
    Escaped to ASCII first, so NULs and lone surrogates in hostile input stay storable."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else seal(json.dumps(value, ensure_ascii=True).encode()).decode("ascii")

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(unseal(value.encode("ascii")))


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """The CHECK constraint that keeps `column` within a vocabulary, written from the tuple the code uses, so the
    database, the machines and the queries cannot spell a status differently."""
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=column)


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible fingerprint of a token so the same card is stored once."""
    return hashlib.sha256(("fp:" + token).encode()).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)
