"""Handing a composed message over: to the SMTP server of SMTP_URL, or into the instance's mail folder.

The standard library does it: `email.message.EmailMessage` composes multipart text+HTML with UTF-8
headers (Russian subjects) correctly, `smtplib` speaks plain SMTP, STARTTLS, implicit TLS and AUTH. The
mail libraries for Flask add little to that and lag behind (Flask-Mail), and the queue, retries and
idempotency are ours anyway (outgoing_mails)."""
import os
import smtplib
import ssl
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

# scheme: (default port, how the connection is secured)
SCHEMES = {"smtp": (25, None), "smtp+starttls": (587, "starttls"), "smtps": (465, "tls")}
TIMEOUT = 30


class PermanentRefusal(Exception):
    """The server refused the message for good (a 5xx answer): trying again would be refused again."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str | None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line or an error


def parse_smtp_url(url: str) -> SmtpServer:
    """smtp://host:25, smtp+starttls://user:pass@host:587, smtps://user:pass@host:465 (user and
    password percent-encoded). The errors never repeat the password."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise ValueError(f"the scheme must be one of {', '.join(SCHEMES)} (got {parts.scheme!r})")
    default_port, security = SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("the port is not a number") from None
    if not parts.hostname:
        raise ValueError("no host (smtp://host:port)")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpServer(parts.hostname, port, security, username, password)


def send_smtp(server: SmtpServer, message: EmailMessage) -> None:
    """One message on a connection of its own (a retry, a staff resend)."""
    with smtp_connection(server) as send:
        send(message)


@contextmanager
def smtp_connection(server: SmtpServer):
    """A connection for a run of messages (the first tries of a burst of receipts): yields `send(message)`,
    which raises PermanentRefusal for a message the server refused for good and the smtplib or socket error
    otherwise. STARTTLS asked for and not offered is an error, never a silent plain send."""
    context = ssl.create_default_context()
    if server.security == "tls":
        connection = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT, context=context)
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    with connection:
        if server.security == "starttls":
            connection.starttls(context=context)
        if server.username:
            connection.login(server.username, server.password or "")
        yield lambda message: _send(connection, message)


def _send(connection, message: EmailMessage) -> None:
    try:
        connection.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise PermanentRefusal(_describe(exc.recipients)) from None
        raise
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        if exc.smtp_code >= 500:
            raise PermanentRefusal(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        raise


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe(recipients: dict) -> str:
    return "; ".join(f"{address}: {code} {_text(reply)}" for address, (code, reply) in recipients.items())


def write_eml(folder: Path, name: str, message: EmailMessage) -> Path:
    """The embedded default's delivery: the message as an .eml file, written whole (a reader never sees
    half of one) and overwritten by a repeat, so delivering twice leaves one file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fd, draft = tempfile.mkstemp(dir=folder, prefix=".draft-", suffix=".eml")
    with os.fdopen(fd, "wb") as file:
        file.write(message.as_bytes())
    os.replace(draft, path)
    return path
