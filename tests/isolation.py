"""What a test run or a bench run takes for itself on shared servers, and gives back: a Redis database
nobody else uses and a RabbitMQ vhost of its own. Never another's data: a database that holds anything
at all may be a deployment's or another run's, so it is never chosen, let alone flushed."""
import shutil
import subprocess
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from redis import Redis

REDIS_CLAIM_KEY = "portal:test-run"
# Deletes the claim only while it is still this run's (another run may hold it after ours expired).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def claim_redis_database(server: str, owner: str, seconds: int) -> str:
    """The URL of a database 1-15 (0 is a developer's default) that was empty, claimed for `owner` for
    `seconds`. The claim is set only where no claim exists (SET NX), and kept only if it is then the
    database's one key; else it is released and the next database tried."""
    busy = []
    for number in range(15, 0, -1):
        url = f"{server}/{number}"
        redis = Redis.from_url(url)
        if not redis.set(REDIS_CLAIM_KEY, owner, nx=True, ex=seconds):
            busy.append(f"{number} (claimed by {(redis.get(REDIS_CLAIM_KEY) or b'?').decode()})")
            continue
        if redis.dbsize() == 1:
            return url
        release_redis_database(url, owner)
        busy.append(f"{number} (holds data)")
    raise RuntimeError(f"no empty Redis database on {server}: {', '.join(busy)}")


def owns_redis_database(url: str, owner: str) -> bool:
    return Redis.from_url(url).get(REDIS_CLAIM_KEY) == owner.encode()


def empty_redis_database(url: str, owner: str) -> None:
    """Everything but the claim goes (the claim keeps other runs out while we use it), and only from a
    database this run still owns."""
    redis = Redis.from_url(url)
    if not owns_redis_database(url, owner):
        raise RuntimeError(f"Redis database {url} is no longer claimed by this run; not emptying it")
    keys = [k for k in redis.scan_iter(count=1000) if k != REDIS_CLAIM_KEY.encode()]
    if keys:
        redis.delete(*keys)


def release_redis_database(url: str, owner: str, empty: bool = False) -> None:
    if empty and owns_redis_database(url, owner):
        empty_redis_database(url, owner)
    Redis.from_url(url).eval(_RELEASE, 1, REDIS_CLAIM_KEY, owner)


def add_vhost(amqp_url: str, name: str) -> str | None:
    """A RabbitMQ vhost of our own on a local broker, with the URL's user allowed everything in it;
    returns its URL, or None where rabbitmqctl is absent or refuses (a remote broker, no rights)."""
    ctl = shutil.which("rabbitmqctl")
    if not ctl:
        return None
    if subprocess.run([ctl, "add_vhost", name], capture_output=True, text=True).returncode != 0:
        return None
    url = urlsplit(amqp_url)
    user = unquote(url.username or "guest")
    subprocess.run([ctl, "set_permissions", "-p", name, user, ".*", ".*", ".*"], capture_output=True, check=True)
    return urlunsplit(url._replace(path="/" + quote(name, safe="")))


def delete_vhost(name: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl:
        subprocess.run([ctl, "delete_vhost", name], capture_output=True)
