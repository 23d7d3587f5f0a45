"""Helpers for the bridge tests: event writing through real transitions, an events observer, a TCP
proxy standing in for a broker outage, and polling."""
import json
import socket
import threading
import time
from datetime import timedelta

from portal import clock
from portal.machines import atomic, fire, lock
from portal.models import Subscription


class Observer:
    """A queue bound to the events exchange, read with basic_get."""

    def __init__(self, channel, name):
        self.channel, self.name = channel, name

    def messages(self, settle: float = 0.3) -> list[tuple]:
        """Everything delivered so far, in queue order: (method, properties, envelope)."""
        time.sleep(settle)
        out = []
        while True:
            method, properties, body = self.channel.basic_get(self.name, auto_ack=True)
            if method is None:
                return out
            out.append((method, properties, json.loads(body)))


def write_events(subscription: Subscription, count: int) -> None:
    """Real transitions, each committing its outbox row: activate, then past_due/renew alternately."""
    sub_id = subscription.id
    start = clock.now()
    steps = [("activate", {"period_start": start, "period_end": start + timedelta(days=30)})]
    while len(steps) < count:
        steps.append(("mark_past_due", {}))
        if len(steps) < count:
            n = len(steps)
            steps.append(("renew", {"period_start": start + timedelta(days=30 * n),
                                    "period_end": start + timedelta(days=30 * (n + 1))}))
    for event, args in steps:
        with atomic():
            fire(lock(Subscription, sub_id), event, actor="test", cause="bus test", **args)


class TcpProxy:
    """A local port forwarding to RabbitMQ that can be stopped (connections cut, port refusing) and
    started again: the broker going away and returning, without touching the shared broker."""

    def __init__(self, target=("127.0.0.1", 5672), vhost_path="/%2F"):
        self.target = target
        self.vhost_path = vhost_path
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server = None
        self._sockets = []
        self._lock = threading.Lock()

    @property
    def url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}{self.vhost_path}"

    def start(self):
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        server.settimeout(0.1)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self):
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, server):
        while self._server is server:
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def wait_until(predicate, timeout=15.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
