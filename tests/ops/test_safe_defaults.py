"""Defaults that keep the provider's limit: PROVIDER_CONCURRENCY is 3 when unset (all processes together),
a nonsense value stops the start naming it, and `make up` refuses a limit above the sandbox's."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import config
from portal.config import DEFAULT_PROVIDER_CONCURRENCY, ConfigurationError
from portal.providers import get_provider
from portal.providers.call_slots import SharedCallSlots
from tests.test_config import CONFIGURED, start_flask

ROOT = Path(__file__).resolve().parents[2]


def test_unset_the_provider_concurrency_is_a_conservative_limit_kept_by_all_processes(app):
    # The suite's app is configured without PROVIDER_CONCURRENCY, as a deployment that never heard of it.
    assert "PROVIDER_CONCURRENCY" not in os.environ
    assert DEFAULT_PROVIDER_CONCURRENCY == 3 < 5  # under the sandbox's default limit of 5
    assert app.config["PROVIDER_CONCURRENCY"] == 3
    slots = get_provider().call_slots
    assert isinstance(slots, SharedCallSlots) and slots.limit == 3  # in Redis: every worker counts together


@pytest.mark.parametrize("value", ["0", "-2", "five"])
def test_a_provider_concurrency_that_cannot_work_stops_the_start_naming_it(value):
    with pytest.raises(ConfigurationError, match="PROVIDER_CONCURRENCY must be a whole number"):
        config.check({"EMBEDDED": True, "PROVIDER_CONCURRENCY": value})


def test_a_deployment_with_a_nonsense_limit_does_not_start():
    done = start_flask(**CONFIGURED, PROVIDER_CONCURRENCY="0")
    assert done.returncode != 0
    assert "PROVIDER_CONCURRENCY must be a whole number" in done.stderr


def test_make_up_refuses_a_provider_concurrency_above_the_sandboxs_limit(tmp_path):
    env = {**os.environ, "UP_DIR": str(tmp_path / "up"), "PORTAL_ENV_FILE": str(tmp_path / "portal.env"),
           "PROVIDER_CONCURRENCY": "9"}
    (tmp_path / "portal.env").write_text("SANDBOX_CONCURRENCY_LIMIT=5\nPROVIDER_CONCURRENCY=9\n"
                                         "PAYMENT_PROVIDER=sandbox\nDATABASE_URL=postgresql://postgres@127.0.0.1:9/x\n")
    done = subprocess.run([sys.executable, str(ROOT / "deploy" / "up.py"), "up"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PROVIDER_CONCURRENCY=9 exceeds SANDBOX_CONCURRENCY_LIMIT=5" in done.stderr
    assert not (tmp_path / "up").exists()  # nothing was started, nor the database touched


def test_the_sandbox_says_which_settings_it_shares_with_the_portal_and_the_procfile_wires_them():
    done = subprocess.run([sys.executable, "-m", "portal.sandbox", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    for name in ("CLOUDPAYMENTS_PUBLIC_ID", "CLOUDPAYMENTS_API_SECRET", "SANDBOX_MERCHANT_URL",
                 "SANDBOX_CONCURRENCY_LIMIT", "PROVIDER_CONCURRENCY"):
        assert name in done.stdout
    [sandbox] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("sandbox:")]
    assert "--port ${SANDBOX_PORT" in sandbox and "--merchant-url ${SANDBOX_MERCHANT_URL" in sandbox
