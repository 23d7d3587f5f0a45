"""The embedded default's mailbox: the .eml files the portal wrote, listed and opened at /dev/mail, so a
person trying the portal can read a verification or reset mail and click its links. Registered only in
the embedded default without SMTP_URL, and answering only clients on this machine."""
import ipaddress
import re
from email import policy
from email.parser import BytesParser

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup, escape

from portal.mail.delivery import mail_folder

bp = Blueprint("dev_mail", __name__, url_prefix="/dev/mail")
FILE_NAME = re.compile(r"^\d{6}-[a-z_]+\.eml$")
LINK = re.compile(r"https?://[^\s<>\"]+")


@bp.before_request
def loopback_only():
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)


def _read(path):
    with path.open("rb") as file:
        message = BytesParser(policy=policy.default).parse(file)
    text = message.get_body(preferencelist=("plain",))
    return {"name": path.name, "to": message["To"], "subject": message["Subject"], "date": message["Date"],
            "text": text.get_content() if text is not None else ""}


@bp.get("")
def index():
    folder = mail_folder()
    paths = sorted((p for p in folder.glob("*.eml") if FILE_NAME.match(p.name)), reverse=True) \
        if folder.is_dir() else []
    return render_template("dev/mail.html", mails=[_read(p) for p in paths])


@bp.get("/<name>")
def message(name):
    path = mail_folder() / name
    if not FILE_NAME.match(name) or not path.is_file():
        abort(404)
    mail = _read(path)
    return render_template("dev/mail_message.html", mail=mail, body=linkified(mail["text"]))


def linkified(text: str) -> Markup:
    """The text part, escaped, with its links made clickable."""
    out, last = [], 0
    for match in LINK.finditer(text):
        out.append(escape(text[last:match.start()]))
        url = match.group(0)
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)
