"""Property: whatever base arrives, `render` ends in a BaseConfigError or a render; a base the
real Alertmanager accepts gives a render it accepts too, in which every alert reaches the
base's receivers exactly as the base alone did (`amtool config routes test`); and rendering
over that render gives the same bytes."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.errors import BaseConfigError
from reconciler.specs.pipeline import parse_specs
from reconciler.am.reading import decode_text as decode_base
from reconciler.core.render import PREFIX, render_alertmanager_config

from tests.support.fuzz import amtool_refusal, bounded
from tests.support.routing import check_routing, label_sets, matchers_of_config

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECS = parse_specs({
    "s.yaml": b"apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: smtp}\n"
              b"spec: {host: smtp.example.com, from: a@example.com}\n",
    "all.yaml": b"apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: all}\n"
                b"spec: {recipients: [a@example.com]}\n",
    "db.yaml": b"apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: db}\n"
               b"spec: {recipients: [d@example.com], matchers: ['team=\"db\"']}\n"})
LISTS = [(PREFIX + item.name, tuple(item.matchers)) for item in SPECS.lists]

NAMES = ["chat", "pager", "dba", "audit", "notify-reconciler-chat", "notify-reconciler/x", "notify-reconciler/db",
         "notify-reconciler/discard"]
KEYS = ["route", "receivers", "global", "routes", "receiver", "matchers", "match", "match_re", "continue", "name",
        "group_by", "email_configs", "webhook_configs", "inhibit_rules", "templates", "smtp_from", "to", "url"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(NAMES),
                    st.sampled_from(['team="db"', 'severity=~"page|critical"', "5m", "", "x: y", "- a"]),
                    st.text(max_size=10))
ANY = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                   max_leaves=20)


@st.composite
def route_trees(draw, depth: int = 0) -> dict:
    route: dict = {"receiver": draw(st.sampled_from(NAMES[:5]))}
    if depth:
        matchers = draw(st.lists(st.sampled_from(['team="db"', 'team="web"', 'severity="page"', 'team=~"db|web"',
                                                  'severity!="page"', 'alertname="Watchdog"']), max_size=2,
                                 unique=True))
        if matchers:
            route["matchers"] = matchers
        if draw(st.booleans()):
            route["continue"] = True
    if draw(st.booleans()):
        route["group_by"] = draw(st.sampled_from([["alertname"], ["cluster"], ["..."]]))
    if depth < 3:
        children = draw(st.lists(route_trees(depth + 1), max_size=3 if depth < 2 else 1))
        if children or (depth == 0 and draw(st.booleans())):
            route["routes"] = children
    return route


@st.composite
def good_bases(draw) -> str:
    base = {"route": draw(route_trees()), "receivers": [{"name": name} for name in NAMES[:5]]}
    if draw(st.booleans()):
        base["inhibit_rules"] = [{"source_matchers": ['severity="page"'], "target_matchers": ['severity="warn"']}]
    text = json.dumps(base)
    return text if draw(st.booleans()) else _block(base)


def _block(value) -> str:
    """`value` as block-style YAML (a different shape for the same meaning)."""
    out = io.StringIO()
    YAML().dump(value, out)
    return out.getvalue()


def render_or_refuse(data: bytes) -> str | None:
    with bounded():
        try:
            return render_alertmanager_config(SPECS, decode_base(data, "base.yml"), base_name="base.yml")
        except BaseConfigError as exc:
            assert str(exc).startswith("base.yml"), str(exc)
            return None


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_as_base_end_in_a_base_error_or_a_render(data):
    render_or_refuse(data)


@FUZZ
@given(ANY)
def test_a_base_of_any_shape_ends_in_a_base_error_or_a_render(value):
    render_or_refuse(json.dumps(value).encode())


@pytest.mark.slow
@settings(FUZZ, max_examples=20)
@given(good_bases())
def test_a_base_alertmanager_accepts_keeps_its_routing_and_renders_idempotently(amtool, base):
    if amtool_refusal(amtool, base):
        return  # e.g. a route to notify-reconciler/x, which the base does not define
    text = render_or_refuse(base.encode())
    assert text is not None, "a base Alertmanager accepts, without names of ours, was refused"
    assert not amtool_refusal(amtool, text), amtool_refusal(amtool, text)
    assert render_alertmanager_config(SPECS, text) == text
    sets = label_sets(matchers_of_config(base) + ['team="db"'], limit=6)
    check_routing(amtool, base, text, LISTS, sets)


@st.composite
def commented_bases(draw) -> str:
    """good_bases in block style with comments: at the end of lines, and on lines of their own
    (where ruamel keeps the line end with the comment it carries into the render)."""
    lines = _block({"route": draw(route_trees()), "receivers": [{"name": name} for name in NAMES[:5]]})
    out = []
    for line in lines.splitlines():
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(["# a note", "", "  # indented note", "#"])))
        out.append(line + (draw(st.sampled_from(["", " # why", "   #x"])) if draw(st.booleans()) else ""))
    return "\n".join(out) + draw(st.sampled_from(["\n", "\n# the end\n", ""]))


@settings(FUZZ, max_examples=30)
@given(commented_bases(), st.sampled_from(["\r\n", "\r"]))
def test_a_base_with_crlf_or_cr_line_ends_renders_as_with_lf(base, line_end):
    """Windows editors save CRLF: YAML, and Alertmanager, read it as the same config, and the
    render must be the same bytes, without a CR left in a comment it carried over."""
    with_lf = render_or_refuse(base.encode())
    other = render_or_refuse(base.replace("\n", line_end).encode())
    assert other == with_lf
    assert other is None or "\r" not in other
