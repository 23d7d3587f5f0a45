"""PROVIDER_CONCURRENCY: our processes together keep under the terminal's limit on calls in flight."""
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis

from portal.providers import CloudPaymentsProvider, RetryableProviderError
from portal.providers.call_slots import LocalCallSlots, SharedCallSlots, call_slots_from_config
from tests.providers.support import API_SECRET, PUBLIC_ID, look_up_side_by_side
from tests.test_embedded_default import free_port


@pytest.fixture
def terminal(redis_url):
    """A terminal name of this test's own in the run's Redis database."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    redis = Redis.from_url(redis_url)
    redis.delete(f"portal:call-slots:{name}", f"portal:call-slots:{name}:handed-back")


def process(redis_url, terminal, limit, **timing):
    """What one worker process holds: its own Redis connection, the shared slots."""
    timing = {"lease_seconds": 40, "wait_seconds": 30, **timing}
    return SharedCallSlots(Redis.from_url(redis_url), terminal, limit, **timing)


def test_calls_of_two_processes_over_the_limit_wait_for_a_slot_instead_of_getting_a_429(sandbox, redis_url,
                                                                                      terminal):
    sandbox.control(concurrency_limit=2, latency_ms=300)
    sandbox.reset_stats()
    providers = [CloudPaymentsProvider(PUBLIC_ID, API_SECRET, api_url=sandbox.url, timeout=(2, 10),
                                       call_slots=process(redis_url, terminal, 2)) for _ in range(2)]

    def look_up(n):
        return providers[n % 2].find_by_invoice(f"no-such-invoice-{n}")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(look_up, range(6)))

    assert answers == [None] * 6
    stats = sandbox.stats()
    assert stats["rejected_429"] == 0
    assert stats["in_flight_max"] == 2
    assert providers[0].call_slots.taken() == 0


def test_without_slots_the_same_calls_get_429s(sandbox):
    # The counterpart of the test above: what PROVIDER_CONCURRENCY saves a renewal run from.
    sandbox.control(concurrency_limit=2, latency_ms=300)
    sandbox.reset_stats()
    provider = CloudPaymentsProvider(PUBLIC_ID, API_SECRET, api_url=sandbox.url, timeout=(2, 10))

    answers = look_up_side_by_side(provider, 6)

    assert 429 in answers
    assert sandbox.stats()["rejected_429"] >= 1


def test_a_slot_held_by_a_process_that_died_is_free_when_its_lease_ends(redis_url, terminal):
    dead = process(redis_url, terminal, 1, lease_seconds=0.5).held()
    dead.__enter__()  # taken, and never handed back
    alive = process(redis_url, terminal, 1, lease_seconds=0.5, wait_seconds=5)

    started = time.monotonic()
    with alive.held():
        waited = time.monotonic() - started

    assert 0.3 < waited < 3


def test_a_slot_handed_back_wakes_a_waiting_call_at_once(redis_url, terminal):
    slots = process(redis_url, terminal, 1)
    holder = slots.held()
    holder.__enter__()
    threading.Timer(0.3, holder.__exit__, (None, None, None)).start()

    started = time.monotonic()
    with process(redis_url, terminal, 1).held():
        waited = time.monotonic() - started

    assert 0.2 < waited < 0.45  # woken by the hand-back, not by the lease (40 s)


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_when_every_slot_stays_taken_the_call_is_a_passing_error(redis_url, terminal, shared):
    slots = process(redis_url, terminal, 1, wait_seconds=0.3) if shared else LocalCallSlots(1, wait_seconds=0.3)

    with slots.held():
        with pytest.raises(RetryableProviderError, match="PROVIDER_CONCURRENCY"), slots.held():
            pass
    with slots.held():  # the first was handed back
        pass


def test_slots_follow_the_configuration(redis_url):
    assert call_slots_from_config({}, "t", lease_seconds=40) is None
    assert isinstance(call_slots_from_config({"PROVIDER_CONCURRENCY": 3}, "t", lease_seconds=40), LocalCallSlots)
    shared = call_slots_from_config({"PROVIDER_CONCURRENCY": 3, "REDIS_URL": redis_url}, "t", lease_seconds=40)
    assert isinstance(shared, SharedCallSlots) and shared.limit == 3


def test_without_redis_no_call_is_made_and_the_job_goes_again(sandbox):
    sandbox.reset_stats()
    unreachable = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    provider = CloudPaymentsProvider(PUBLIC_ID, API_SECRET, api_url=sandbox.url, timeout=(2, 10),
                                     call_slots=SharedCallSlots(unreachable, "down", 2, lease_seconds=40,
                                                                wait_seconds=1))

    with pytest.raises(RetryableProviderError, match="call slots unavailable"):
        provider.find_by_invoice("no-such-invoice")

    assert sandbox.stats()["api_calls_total"] == 0
