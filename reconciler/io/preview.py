"""`preview`: the mail a RecipientList would get for a sample alert, as Alertmanager 0.25 would
write it.

The subject, HTML and text bodies are rendered by Alertmanager's own engine (amtool
template render, template_engine) from the same template files and the same strings the
render puts into the config, with the data Alertmanager's e-mail notifier builds for one
firing alert (template_engine.sample_data): only alert data, never the server's settings or
its password. The message is assembled as notify/email/email.go does: the configured
headers (To, From, Subject), then multipart/alternative with the text part (when the list
has a text template) before the HTML part, each quoted-printable UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from datetime import datetime, timedelta, timezone
from typing import Mapping

from ..errors import SpecError, SpecErrors, Location
from ..specs.model import Specs
from ..specs.headers import too_long
from ..core.names import PREFIX
from ..core.render import mail_fields, messages, to_header
from .template_engine import TemplateRefused, engine, sample_data
from ..specs.templates import DEFAULT_HTML, DEFAULT_SUBJECT

DEFAULT_ANNOTATIONS = {"summary": "A sample alert, rendered by notify-reconciler preview"}
DEFAULT_EXTERNAL_URL = "http://localhost:9093"


@dataclass(frozen=True)
class Preview:
    subject: str
    headers: tuple[tuple[str, str], ...]
    html: str
    text: str | None
    eml: bytes
    """The first message, as Alertmanager writes it."""
    to: tuple[str, ...] = ()
    """The To: header of each message Alertmanager sends the list (several with a recipient cap
    or perRecipient delivery); they differ in nothing else."""
    subject_problem: str | None = None
    """Why the Subject: line of this mail would not reach a strict server, if it would not."""


def preview_mail(specs: Specs, list_name: str, labels: Mapping[str, str], annotations: Mapping[str, str], *,
                 now: datetime, external_url: str = DEFAULT_EXTERNAL_URL) -> Preview:
    """The mail `list_name` would get for one firing alert with `labels` and `annotations`.
    Raises SpecErrors for an unknown list or a template that does not render with this data,
    EnvironmentProblem without amtool."""
    lists = {item.name: item for item in specs.lists}
    if list_name not in lists:
        known = ", ".join(sorted(lists)) or "none"
        raise SpecErrors([SpecError(Location("--list"), "", f"there is no RecipientList named {list_name!r} "
                                                            f"(there are: {known})")])
    recipient_list = lists[list_name]
    fields = dict(mail_fields(specs, recipient_list))
    routing = specs.routing_for(recipient_list)
    group_by = None if routing.group_by and "..." in routing.group_by else tuple(routing.group_by or ())
    started = (now - timedelta(minutes=5)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = sample_data(PREFIX + list_name, labels, annotations, group_by, started, external_url)
    mail = specs.mail_for(recipient_list)
    with engine(specs.template_files) as amtool:
        subject = _render(amtool.render, fields.get("subject", DEFAULT_SUBJECT), False, data,
                          mail.subject_at, "spec.subject")
        html = _render(amtool.render, fields.get("html", DEFAULT_HTML), True, data, mail.html_at,
                       "spec.templates.html")
        text = _render(amtool.render, fields["text"], False, data, mail.text_at, "spec.templates.text") \
            if "text" in fields else None
    # What the email_config's headers say (the render sets To, Alertmanager adds From), for each
    # message the list is sent as: the render's own split.
    cap = specs.server.max_recipients_per_message if specs.server is not None else None
    to = tuple(to_header(list_name, recipients) for recipients in messages(recipient_list, cap))
    sender = specs.server.sender if specs.server is not None else "alertmanager@example.com"
    headers = (("To", to[0]), ("From", sender), ("Subject", subject))
    return Preview(subject, headers, html, text, _message(headers, html, text, now), to,
                   too_long("Subject", subject))


def _render(render, text: str, html: bool, data: dict, where: Location | None, path: str) -> str:
    try:
        return render(text, html=html, data=data)
    except TemplateRefused as refused:
        raise SpecErrors([SpecError(where or Location("--list"), path if where else "",
                                    f"does not render for this alert: {refused}")]) from None


def _message(headers: tuple[tuple[str, str], ...], html: str, text: str | None, now: datetime) -> bytes:
    utf8 = Charset("utf-8")
    utf8.body_encoding = QP
    message = MIMEMultipart("alternative")
    for name, value in headers:
        # Alertmanager Q-encodes a value that is not printable ASCII (mime.QEncoding).
        message[name] = value if value.isascii() and value.isprintable() else Header(value, "utf-8").encode()
    message["Date"] = format_datetime(now)
    message["Message-Id"] = make_msgid(domain="notify-reconciler.io.preview")
    if text is not None:
        message.attach(MIMEText(text, "plain", utf8))
    message.attach(MIMEText(html, "html", utf8))  # the preferred alternative last (RFC 2046 5.1.4)
    return message.as_bytes()
