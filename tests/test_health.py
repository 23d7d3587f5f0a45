"""Probes: liveness always, readiness per configured dependency."""
from portal import create_app


def test_healthz_answers_while_the_process_is_up(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_database_redis_and_rabbitmq(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok", "rabbitmq": "ok"}


def test_readyz_is_503_and_names_the_dependency_that_is_down(test_config, app):
    broken = create_app({**test_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["redis"].startswith("down") and checks["database"] == "ok" and checks["rabbitmq"] == "ok"
