"""The `cron` process's configuration: `rq cron workers.cron` enqueues each tick on its interval."""
from rq import cron

from portal.queue import QUEUE_NAME
from workers.ticks import SCHEDULE

for name, tick, seconds in SCHEDULE:
    cron.register(tick, queue_name=QUEUE_NAME, interval=seconds, name=name)
