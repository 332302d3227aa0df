"""reconciler.logfmt writes values one way; a strict logfmt reader reads them back unchanged."""

from __future__ import annotations

import pytest

from reconciler.logfmt import line, value

from tests.support.logfmt_parser import parse

HOSTILE = [
    "plain",
    "two words",
    'x" event=applied revision=0000000 message="ok',
    "it's \"both\" quotes",
    "back\\slash \\\" and \\n written out",
    "key=value",
    "",
    "line one\nevent=applied revision=abc1234",
    "\r\t\x00\x1b[2J\x7f\x9b31m",
    "right-to-left \u202eevil\u202c and \u2028 separator",
    "Zoë 李 ünïcödé",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_any_value_reads_back_as_written_and_adds_no_key(text):
    written = line("rejected", revision="abc1234", message=text)
    assert "\n" not in written and "\r" not in written and "\x1b" not in written
    assert parse(written) == {"event": "rejected", "revision": "abc1234", "message": text}


@pytest.mark.parametrize(("raw", "shown"), [
    ("abc1234", "abc1234"), ("commit,poll", "commit,poll"), ("", '""'), ("a b", '"a b"'), ("a=b", '"a=b"'),
    ('say "hi"', '"say \\"hi\\""'), ("c:\\dir", '"c:\\\\dir"'), ("\x1b[2J", '"\\u001b[2J"'), ("a\nb", '"a\\nb"'),
    ("https://deploy:tok@git.example.com/x.git", "https://<secret>@git.example.com/x.git"),
])
def test_values_are_bare_when_they_can_be_and_quoted_one_way_otherwise(raw, shown):
    assert value(raw) == shown


def test_a_field_of_none_is_left_out_and_keys_are_checked():
    assert line("stopped", error=None) == "event=stopped"
    with pytest.raises(ValueError):
        line("x", **{"bad key": 1})


@pytest.mark.parametrize("bad", [
    "message='a1b2c3d \\'x\" event=applied' rejected'",  # what %r wrote for such a subject
    'a="unclosed', "a=1 a=2", 'a="x"b', 'a="\\q"', "novalue", 'a=x"y',
])
def test_the_reader_is_strict(bad):
    with pytest.raises(ValueError):
        parse(bad)
