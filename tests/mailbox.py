"""A real SMTP server in the test process (aiosmtpd): what the portal sends arrives here over TCP, and
tests read it as a person's mailbox would show it. Recipients whose local part says so are refused:
`tempfail...@` with 451 (try later), `bounce...@` with 550 (for good)."""
import re
import socket
import threading
import time
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://[^\s<>\"]+")


class Handler:
    def __init__(self):
        self.received = []
        self.peers = []
        self.lock = threading.Lock()
        self.down = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.partition("@")[0]
        if self.down or local.startswith("tempfail"):
            return "451 4.3.0 Mailbox temporarily unavailable"
        if local.startswith("bounce"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message))
            self.peers.append(session.peer)  # the client's address and port: one per connection
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """The test server and what it received."""

    def __init__(self):
        self.handler = Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=free_port())

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def clear(self):
        with self.handler.lock:
            self.handler.received.clear()
            self.handler.peers.clear()
        self.handler.down = False

    def connections(self) -> int:
        """How many SMTP connections the mails received came over."""
        with self.handler.lock:
            return len(set(self.handler.peers))

    def messages(self, to=None):
        with self.handler.lock:
            return [m for rcpts, m in self.handler.received if to is None or to in rcpts]

    def wait_for(self, to, count=1, seconds=10, work=None):
        """The mails to `to` once `count` have arrived (running `work`, the job runner, meanwhile)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if work is not None:
                work()
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} mail(s) to {to} did not arrive; got {len(self.messages(to))}")


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def links_in(message) -> list[str]:
    return LINK.findall(text_of(message))


def link_to(message, path_part: str) -> str:
    """The link in the mail whose address contains `path_part`."""
    found = [link for link in links_in(message) if path_part in link]
    assert found, f"no link with {path_part!r} in:\n{text_of(message)}"
    return found[0]


def run_jobs():
    """Run the queued jobs (the mail deliveries among them) with a real RQ worker, in this app context."""
    from rq import SimpleWorker

    from portal.extensions import db
    from portal.queue import job_queues

    queues = job_queues()
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)
    db.session.expire_all()
