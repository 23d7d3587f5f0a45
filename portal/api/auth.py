"""Bearer tokens for the platform's services: API_TOKENS is a comma-separated list of `client:token`
pairs ("catalog:abc123,auth:def456"); a bare token belongs to the client "default"."""
import hashlib
import hmac

from flask import current_app, g, request

from portal.api.problems import ApiProblem

DEFAULT_CLIENT = "default"
REALM = "billing-api"


def parse_tokens(setting: str | None) -> list[tuple[str, str]]:
    """(client, token) pairs; blanks are skipped, so a trailing comma or an empty setting is harmless."""
    pairs = []
    for entry in (setting or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        client, sep, token = entry.partition(":")
        if not sep:
            client, token = DEFAULT_CLIENT, entry
        client, token = client.strip() or DEFAULT_CLIENT, token.strip()
        if token:
            pairs.append((client, token))
    return pairs


def client_for_token(given: str, pairs: list[tuple[str, str]]) -> str | None:
    """The client owning `given`. Every configured token is compared, each in constant time, so the
    answer's timing says nothing about which token (or how much of one) matched."""
    found = None
    # Digests first: equal lengths, so not even a token's length leaks through the comparison.
    given_digest = hashlib.sha256(given.encode()).digest()
    for client, token in pairs:
        if hmac.compare_digest(given_digest, hashlib.sha256(token.encode()).digest()) and found is None:
            found = client
    return found


def _unauthorized(detail: str, error: str | None = None) -> ApiProblem:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return ApiProblem(401, detail, slug="unauthorized", headers={"WWW-Authenticate": challenge})


def authenticate() -> str:
    """The calling client's name, remembered in g.api_client; raises a 401 problem otherwise.
    The token itself is never logged nor echoed back."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.strip().partition(" ")
    if not header:
        raise _unauthorized("send the header Authorization: Bearer <token>; tokens are issued per "
                            "service through the API_TOKENS setting")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise _unauthorized("the Authorization header must use the Bearer scheme: Authorization: Bearer <token>",
                            "invalid_request")
    client = client_for_token(credentials.strip(), parse_tokens(current_app.config.get("API_TOKENS")))
    if client is None:
        raise _unauthorized("the bearer token is not valid for this API; check the token your service "
                            "was issued (API_TOKENS)", "invalid_token")
    g.api_client = client
    return client
