"""Dry run: a unified diff between what a spec folder would render and what is live.

Pure. Secrets are shown as ``<secret>`` on both sides, the way Alertmanager's own
/api/v2/status shows them: values of secret-bearing keys, and passwords inside URLs.
"""

from __future__ import annotations

import difflib
import re

SECRET = "<secret>"
# Alertmanager 0.25's Secret-typed fields and their relatives (api_key, routing_key,
# service_key, user_key, bot_token, auth_password, smtp_auth_secret, slack api_url, ...).
_SECRET_KEY = re.compile(r"^(?P<lead>\s*(?:-\s+)?(?P<quote>[\"']?)(?:[A-Za-z0-9]*_)*"
                         r"(?:password|secret|token|key|credentials|api_url)(?P=quote)\s*:\s+)(?P<value>\S.*)$")
_URL_PASSWORD = re.compile(r"(://[^/:@\s]+):[^@/\s]+@")


def redact(text: str) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        ending = "\n" if line.endswith("\n") else ""
        body = line[:-1] if ending else line
        match = _SECRET_KEY.match(body)
        if match and match.group("value").strip() not in (SECRET, "''", '""', "|", ">"):
            body = match.group("lead") + SECRET
        lines.append(_URL_PASSWORD.sub(rf"\1:{SECRET}@", body) + ending)
    return "".join(lines)


def unified_diff(live: str, rendered: str, live_label: str, rendered_label: str) -> str:
    """'' when they are the same; otherwise a unified diff with secrets redacted."""
    before, after = redact(live), redact(rendered)
    if before == after:
        return ""
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=live_label, tofile=rendered_label)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def colourise(diff: str) -> str:
    colours = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m"}
    out = []
    for line in diff.splitlines(keepends=True):
        colour = "\x1b[1m" if line.startswith(("+++", "---")) else colours.get(line[:1])
        out.append(f"{colour}{line.rstrip(chr(10))}\x1b[0m\n" if colour else line)
    return "".join(out)
