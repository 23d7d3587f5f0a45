"""Behind trusted proxies the portal sees the client's address and scheme; without them it ignores the headers."""
from flask import request

from portal import create_app


def _seen(test_config, hops):
    app = create_app({**test_config, "PROXY_HOPS": hops})

    @app.get("/_seen")
    def seen():
        return {"addr": request.remote_addr, "scheme": request.scheme}

    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    return app.test_client().get("/_seen", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()


def test_forwarded_headers_are_believed_only_from_configured_proxies(test_config, app):
    assert _seen(test_config, 0) == {"addr": "10.0.0.2", "scheme": "http"}
    assert _seen(test_config, 1) == {"addr": "203.0.113.7", "scheme": "https"}
