"""Behind trusted proxies the portal sees the client's address and scheme; without them it ignores the headers."""
import logging

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


def test_readyz_warns_when_requests_come_through_a_proxy_nobody_configured(test_config, app, caplog):
    unconfigured = create_app({**test_config, "PROXY_HOPS": 0})
    client = unconfigured.test_client()
    assert "warnings" not in client.get("/readyz").get_json()

    with caplog.at_level(logging.WARNING, logger="portal.proxies"):
        for _ in range(3):
            client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    ready = client.get("/readyz")
    assert ready.status_code == 200  # the portal works; its limits just see one client
    [warning] = ready.get_json()["warnings"]
    assert "PROXY_HOPS is 0" in warning and "X-Forwarded-For" in warning
    assert caplog.text.count("PROXY_HOPS is 0") == 1  # once per process, not per request

    # Another web process (sharing Redis) says so too, though it never saw such a request itself.
    other_process = create_app({**test_config, "PROXY_HOPS": 0})
    assert other_process.test_client().get("/readyz").get_json()["warnings"] == [warning]


def test_readyz_does_not_warn_once_the_proxies_are_configured(test_config, app):
    configured = create_app({**test_config, "PROXY_HOPS": 1})
    client = configured.test_client()
    client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    assert "warnings" not in client.get("/readyz").get_json()
