"""The suite and the bench take only what they create: an empty Redis database (a deployment's or
another run's keys are never touched) and, where the broker allows, a RabbitMQ vhost of their own."""
import shutil
import uuid
from urllib.parse import unquote, urlsplit

import pytest
from redis import Redis

from tests import isolation
from tests.conftest import REDIS_SERVER, RUN_ID

FOREIGN_KEY = "rq:queue:billing"  # what a deployment sharing the server would hold
FOREIGN_VALUE = b"a deployment's job ids"


@pytest.fixture
def foreign_database():
    """The first database a claim would try, holding one key of somebody else's (no claim key)."""
    for number in range(15, 0, -1):
        redis = Redis.from_url(f"{REDIS_SERVER}/{number}")
        if redis.dbsize() == 0 and redis.set(FOREIGN_KEY, FOREIGN_VALUE, nx=True):
            break
    else:
        pytest.skip("no empty Redis database to play the deployment's")
    yield number, redis
    redis.delete(FOREIGN_KEY)


def test_a_database_holding_anothers_key_is_never_claimed_and_keeps_it(foreign_database):
    number, redis = foreign_database
    owner = f"isolation-test-{uuid.uuid4().hex}"
    claimed = isolation.claim_redis_database(REDIS_SERVER, owner, seconds=60)
    try:
        assert claimed != f"{REDIS_SERVER}/{number}"
        assert redis.get(FOREIGN_KEY) == FOREIGN_VALUE
        assert redis.get(isolation.REDIS_CLAIM_KEY) is None  # the claim tried there was given back
        assert Redis.from_url(claimed).dbsize() == 1  # the one chosen held nothing but our claim
    finally:
        isolation.release_redis_database(claimed, owner, empty=True)
    assert Redis.from_url(claimed).dbsize() == 0


def test_a_run_never_empties_a_database_it_no_longer_owns(redis_url):
    with pytest.raises(RuntimeError, match="no longer claimed"):
        isolation.empty_redis_database(redis_url, "some-other-run")
    assert isolation.owns_redis_database(redis_url, RUN_ID)


@pytest.mark.skipif(not shutil.which("rabbitmqctl"), reason="no rabbitmqctl: the suite shares AMQP_URL's vhost")
def test_the_suite_talks_to_rabbitmq_in_a_vhost_of_its_own(test_config):
    assert unquote(urlsplit(test_config["AMQP_URL"]).path.lstrip("/")) == RUN_ID.replace("-", "_")
