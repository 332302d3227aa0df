"""The own alerts' way out when the EmailServer is gone or is what failed
(`ownAlerts.fallback`): a sendmail-compatible program, or a relay of its own."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..io.outbox import Carrier
from ..io.smtp import read_password, send, send_with_sendmail
from ..specs.model import EmailServer, TLSSettings

if TYPE_CHECKING:
    from ..service.reconcile import Host
    from ..specs.daemon_config import Fallback


def check_fallback(fallback: Fallback | None) -> None:
    """A sendmail fallback that is not there is refused at start, not found at 3 a.m."""
    if fallback is None or fallback.sendmail is None:
        return
    if not os.path.isfile(fallback.sendmail) or not os.access(fallback.sendmail, os.X_OK):
        raise ConfigError(f"ownAlerts.fallback.sendmail: {fallback.sendmail} is not an executable file: install a "
                          "sendmail-compatible program there (e.g. Debian's msmtp-mta), or name the right path")


def fallback_carrier(fallback: Fallback | None, recipients: tuple[str, ...], host: Host) -> Carrier | None:
    if fallback is None:
        return None
    if fallback.sendmail:
        program = fallback.sendmail
        return Carrier(f"fallback {program}", lambda sender, to, message: send_with_sendmail(program, sender, to, message),
                     recipients)
    relay = fallback.smtp
    server = EmailServer("fallback", relay.host, relay.port, relay.ssl, relay.starttls,
                         TLSSettings(relay.ca_file, relay.server_name, relay.insecure_skip_verify), relay.sender,
                         relay.username, relay.password_file)

    def send_relay(sender: str, to: list[str], message: bytes):
        return send(server, read_password(server, host.environ), sender, to, message, hello=host.hostname)

    return Carrier(f"fallback relay {server.smarthost}", send_relay, recipients, sender=relay.sender)
