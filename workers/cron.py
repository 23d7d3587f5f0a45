"""The `cron` process's configuration: `rq cron workers.cron` enqueues each tick on its interval."""
import os

from rq import cron

from portal.ops import logs
from portal.queue import BILLING_QUEUE
from workers.ticks import SCHEDULE

for name, tick, seconds in SCHEDULE:
    cron.register(tick, queue_name=BILLING_QUEUE, interval=seconds, name=name)

logs.configure(os.environ)  # JSON lines like every other process (LOG_FORMAT); `rq cron` builds no app
