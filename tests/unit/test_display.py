"""reconciler.display: URL credentials hidden, control characters escaped."""

from __future__ import annotations

import pytest

from reconciler.display import display_line, display_lines, escape_controls, redact_urls


@pytest.mark.parametrize(("text", "shown"), [
    ("https://deploy:TOKEN@git.example.com/ops.git", "https://<secret>@git.example.com/ops.git"),
    ("https://TOKEN@github.com/ops.git", "https://<secret>@github.com/ops.git"),  # a token as the user name
    ("https://TOKEN:x-oauth-basic@github.com/ops.git", "https://<secret>@github.com/ops.git"),
    ("http://u:p@ss@127.0.0.1:9/r.git", "http://<secret>@127.0.0.1:9/r.git"),  # '@' in the password
    ("fatal: unable to access 'HTTPS://a:b@h/x/': 403", "fatal: unable to access 'HTTPS://<secret>@h/x/': 403"),
    ("ssh://git@example.com/ops.git", "ssh://git@example.com/ops.git"),  # a key logs in: the user stays
    ("ssh://git:pw@example.com/ops.git", "ssh://git:<secret>@example.com/ops.git"),
    ("https://git.example.com/ops.git and ops@example.com", "https://git.example.com/ops.git and ops@example.com"),
    ("https://<secret>@h/x", "https://<secret>@h/x"),
    ("no url at all: ops@example.com", "no url at all: ops@example.com"),
])
def test_url_credentials_are_hidden(text, shown):
    assert redact_urls(text) == shown
    assert redact_urls(shown) == shown


@pytest.mark.parametrize(("text", "shown"), [
    ("Mallory\x1b[2J", "Mallory\\x1b[2J"),
    ("bell\x07 tab\t nul\x00 del\x7f csi\x9b", "bell\\x07 tab\\x09 nul\\x00 del\\x7f csi\\x9b"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
    ("a\u2028b", "a\\u2028b"),
    ("Zoë 李 ünïcödé (ok)", "Zoë 李 ünïcödé (ok)"),
])
def test_control_characters_are_escaped_and_letters_are_not(text, shown):
    assert escape_controls(text) == shown


def test_a_line_is_made_safe_and_a_text_by_its_lines():
    assert display_line("by M\x1b[2J: https://u:t@h/x\n") == "by M\\x1b[2J: https://<secret>@h/x\\x0a"
    assert display_lines("one\x1b\ntwo") == ["one\\x1b", "two"]
