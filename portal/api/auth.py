"""Bearer tokens for the platform's services, each with the scopes it may use. API_TOKENS is a
comma-separated list of `client:token:scopes` entries ("player:abc123:read,checkout:def456:read+write"):
`read` reads subscriptions and entitlements, `write` pays, cancels and repays. An entry without scopes
(`client:token`, the format before scopes) keeps both, and the start-up log names it; a bare token belongs
to the client "default"."""
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from flask import current_app, g, request

from portal.api.problems import ApiProblem

log = logging.getLogger(__name__)

DEFAULT_CLIENT = "default"
REALM = "billing-api"
SCOPES = ("read", "write")
# What each method needs; an operation that needs another scope says so in its endpoint's entry.
SCOPE_FOR_METHOD = {"GET": "read", "HEAD": "read", "POST": "write"}


@dataclass(frozen=True)
class ApiToken:
    client: str
    token: str
    scopes: frozenset[str]
    scoped: bool = True  # False: an entry written before scopes existed (both granted)
    # What a presented token's digest is compared with, computed once per configured token.
    digest: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "digest", _digest(self.token))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _scopes(text: str) -> frozenset[str] | None:
    names = frozenset(name.strip().lower() for name in text.split("+"))
    return names if names and names <= set(SCOPES) else None


def parse_token_entries(setting: str | None) -> list[ApiToken]:
    """The configured tokens; blanks are skipped, so a trailing comma or an empty setting is harmless. A last
    `:segment` that is not a list of scopes is part of the token, as it always was."""
    entries = []
    for entry in (setting or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        client, sep, token = entry.partition(":")
        if not sep:
            client, token = DEFAULT_CLIENT, entry
        head, sep, tail = token.rpartition(":")
        scopes = _scopes(tail) if sep else None
        if scopes is not None:
            token = head
        client, token = client.strip() or DEFAULT_CLIENT, token.strip()
        if token:
            entries.append(ApiToken(client, token, scopes or frozenset(SCOPES), scoped=scopes is not None))
    return entries


def token_for(given: str, entries: Sequence[ApiToken]) -> ApiToken | None:
    """The configured entry of `given`. Every configured token is compared, each in constant time, so the
    answer's timing says nothing about which token (or how much of one) matched."""
    found = None
    # Digests first: equal lengths, so not even a token's length leaks through the comparison.
    given_digest = _digest(given)
    for entry in entries:
        if hmac.compare_digest(given_digest, entry.digest) and found is None:
            found = entry
    return found


@lru_cache(maxsize=4)
def _configured(setting: str | None) -> tuple[ApiToken, ...]:
    # Parsed and digested once per setting, not on every request (the setting is read each time, so a
    # changed configuration takes effect at once).
    return tuple(parse_token_entries(setting))


def warn_about_unscoped_tokens(setting: str | None) -> None:
    for entry in parse_token_entries(setting):
        if not entry.scoped:
            log.warning("API_TOKENS entry of client %r has no scopes and may read and write; give it "
                        "`:read` or `:read+write` (README, JSON API)", entry.client)


def _unauthorized(detail: str, error: str | None = None) -> ApiProblem:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return ApiProblem(401, detail, slug="unauthorized", headers={"WWW-Authenticate": challenge})


def _forbidden(client: str, scope: str) -> ApiProblem:
    challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
    return ApiProblem(403, f"the token of client {client!r} does not carry the {scope!r} scope this request "
                           f"needs; its API_TOKENS entry must list it (client:token:read+write)",
                      slug="insufficient-scope", headers={"WWW-Authenticate": challenge})


def authenticate() -> str:
    """The calling client's name, remembered in g.api_client, once its token is known and carries the scope
    this request needs; raises a 401 or 403 problem otherwise. The token is never logged nor echoed back."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.strip().partition(" ")
    if not header:
        raise _unauthorized("send the header Authorization: Bearer <token>; tokens are issued per "
                            "service through the API_TOKENS setting")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise _unauthorized("the Authorization header must use the Bearer scheme: Authorization: Bearer <token>",
                            "invalid_request")
    entry = token_for(credentials.strip(), _configured(current_app.config.get("API_TOKENS")))
    if entry is None:
        raise _unauthorized("the bearer token is not valid for this API; check the token your service "
                            "was issued (API_TOKENS)", "invalid_token")
    scope = SCOPE_FOR_METHOD.get(request.method, "write")
    if scope not in entry.scopes:
        raise _forbidden(entry.client, scope)
    g.api_client = entry.client
    return entry.client
