"""Sending e-mail over SMTP (the standard library's client, in a thread).

Port 465 speaks TLS from the start; on any other port STARTTLS is used when the server offers
it, and required when a user name is set (no password crosses the network in clear text,
except to a server on the same host).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

IMPLICIT_TLS_PORT = 465
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


class MailNotSent(Exception):
    """The server refused the message, or could not be reached."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0


def message(sender: str, to: list[str], subject: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(text)
    return mail


def _send(server: SmtpServer, mail: EmailMessage) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.port == IMPLICIT_TLS_PORT:
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    with client:
        client.ehlo()
        if not isinstance(client, smtplib.SMTP_SSL):
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif server.user and server.host not in LOCAL_HOSTS:
                raise MailNotSent(f"{server.host} offers no STARTTLS; not sending the password")
        if server.user:
            client.login(server.user, server.password or "")
        client.send_message(mail)


async def send(server: SmtpServer, to: list[str], subject: str, text: str) -> None:
    mail = message(server.sender, to, subject, text)
    try:
        await asyncio.to_thread(_send, server, mail)
    except (OSError, smtplib.SMTPException) as error:
        raise MailNotSent(f"{type(error).__name__}: {error}"[:500]) from error
