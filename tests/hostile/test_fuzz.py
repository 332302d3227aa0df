"""Property: whatever bytes or structures arrive, the pipeline ends in a located error or a
render that the real `amtool check-config` accepts, never another exception, a hang or
unbounded memory. Hypothesis generates the inputs; the harness (`outcome`, `bounded`) and the
strategies are in tests/support/fuzz.py.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import SpecErrors
from reconciler.specs.pipeline import parse_specs

from tests.support.fuzz import (DOCUMENT, FUZZ, Hang, amtool_refusal, bounded, document, files_of, near_valid_repos,


                                outcome, repo_with, routing_meaning, valid_repo)
from tests.support.routing import BASES


def test_the_bounds_fail_a_hang_and_a_memory_blow_up():
    with pytest.raises(Hang):
        with bounded(seconds=0.2):
            while True:
                pass
    with pytest.raises(AssertionError, match="more than the 1,000,000 allowed"):
        with bounded(memory=1_000_000):
            bytearray(2_000_000)
    with bounded(memory=1_000_000):
        bytearray(500_000)


def test_amtool_refusal_says_what_amtool_refuses(amtool):
    # The check must be able to fail: a render amtool refuses, as if validation had let it through.
    refused = "route: {receiver: nobody}\nreceivers: [{name: somebody}]\n"
    assert "undefined receiver" in amtool_refusal(amtool, refused)


@FUZZ
@given(st.binary(max_size=600))
def test_any_bytes_end_in_a_located_error_or_a_render_amtool_accepts(amtool, data):
    outcome({"f.yaml": data}, amtool)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`,? \n\t0123456789")), max_size=300))
def test_yaml_punctuation_soup_ends_in_a_located_error_or_a_render_amtool_accepts(amtool, text):
    outcome({"f.yaml": text.encode()}, amtool)


@pytest.mark.slow
@FUZZ
@given(st.lists(DOCUMENT, min_size=1, max_size=4))
def test_documents_of_every_shape_end_in_a_located_error_or_a_render_amtool_accepts(amtool, documents):
    # JSON is YAML: each document a line of its own file, some files with several.
    files = {f"d{i}.yaml": json.dumps(document).encode() for i, document in enumerate(documents)}
    outcome(files, amtool)


@FUZZ
@given(st.lists(st.sampled_from(["a@example.com", "B@example.com", "b@EXAMPLE.com", "x.y+z@sub.example.org",
                                 "not-an-address", "c@d.e"]), min_size=0, max_size=60))
def test_recipient_lists_of_any_size_end_in_a_located_error_or_a_render_amtool_accepts(amtool, addresses):
    server = {"apiVersion": "notify-reconciler/v1", "kind": "EmailServer", "metadata": {"name": "s"},
              "spec": {"host": "smtp.example.com", "from": "a@example.com"}}
    lst = {"apiVersion": "notify-reconciler/v1", "kind": "RecipientList", "metadata": {"name": "l"},
           "spec": {"recipients": addresses}}
    outcome({"s.yaml": json.dumps(server).encode(), "l.yaml": json.dumps(lst).encode()}, amtool)


def test_the_unmutated_repo_is_valid(amtool):
    assert outcome(files_of(valid_repo()), amtool) == "accepted"


@pytest.mark.slow
def test_near_valid_specs_end_in_a_located_error_or_a_render_amtool_accepts(amtool):
    outcomes = []

    @settings(FUZZ, max_examples=300)
    @given(near_valid_repos())
    def one_repo(files):
        outcomes.append(outcome(files, amtool, routing=True))

    one_repo()
    # Near-valid must stay near: if most inputs stopped being accepted, amtool would go unasked.
    assert outcomes.count("accepted") >= len(outcomes) // 4, f"{outcomes.count('accepted')} of {len(outcomes)}"


# -- routing: what Alertmanager reads is what the specs say, and the base keeps its meaning -------

ROUTING_LABELS = st.sampled_from(["team", "severity", "alertname", "env"])
ROUTING_VALUES = st.sampled_from(["db", "web", "critical", "page", "Watchdog", "prod", ""])
ROUTING_REGEXES = st.sampled_from(["db|web", "crit.*", ".*", ".+", "page|critical", "Watch(dog)?", "prod|"])
ROUTING_MATCHER = st.builds(lambda label, operator, value: f'{label}{operator}"{value}"', ROUTING_LABELS,
                            st.sampled_from(["=", "!=", "=~", "!~"]), st.one_of(ROUTING_VALUES, ROUTING_REGEXES))


@st.composite
def routed_repos(draw) -> tuple[dict[str, bytes], str]:
    """A valid repo of one to four lists with random matchers, and one of the sample bases."""
    repo = {"server.yaml": [document("EmailServer", "smtp", {"host": "smtp.example.com", "from": "a@example.com"})]}
    for index in range(draw(st.integers(1, 4))):
        spec = {"recipients": [f"l{index}@example.com"]}
        matchers = draw(st.lists(ROUTING_MATCHER, max_size=3, unique=True))
        if matchers:
            spec["matchers"] = matchers
        repo[f"l{index}.yaml"] = [document("RecipientList", f"list-{index}", spec)]
    return files_of(repo), draw(st.sampled_from(sorted(BASES)))


@pytest.mark.slow
def test_random_matchers_route_as_the_specs_say_and_the_base_keeps_its_routing(amtool):
    """The differential test: the render's meaning, as the real Alertmanager reads it, against
    the specs' and the base's. 20 repos x up to 10 label sets: about ten seconds."""
    @settings(FUZZ, max_examples=20)
    @given(routed_repos())
    def one_repo(drawn):
        files, base_name = drawn
        with bounded():
            specs = parse_specs(files)
        routing_meaning(amtool, specs, BASES[base_name])

    one_repo()


# -- what amtool would refuse must be refused by validation first, where it is written ----------

@pytest.mark.parametrize("kind, change, expected", [
    ("NotificationPolicy", {"repeatInterval": "292y24w3d23h47m16s854ms"}, "accepted"),  # Go's longest Duration
    ("NotificationPolicy", {"repeatInterval": "292y24w3d23h47m16s855ms"}, "rejected"),
    ("NotificationPolicy", {"repeatInterval": "300y"}, "rejected"),
    ("RecipientList", {"groupInterval": "293y"}, "rejected"),
    ("RecipientList", {"groupWait": "106752d"}, "rejected"),
    ("NotificationPolicy", {"groupWait": "9223372036854775808ms"}, "rejected"),
])
def test_a_duration_alertmanager_cannot_hold_is_a_located_error(amtool, kind, change, expected):
    files = repo_with(kind, change)
    assert outcome(files, amtool) == expected
    if expected == "rejected":
        [key] = change
        with pytest.raises(SpecErrors, match=f": spec.{key}: .* is longer than Alertmanager can hold"):
            parse_specs(files)


@pytest.mark.parametrize("kind", ["NotificationPolicy", "RecipientList"])
def test_group_by_a_wildcard_with_other_labels_ends_in_a_located_error_or_a_render_amtool_accepts(amtool, kind):
    outcome(repo_with(kind, {"groupBy": ["...", "alertname"]}), amtool)


def test_a_list_named_discard_ends_in_a_located_error_or_a_render_amtool_accepts(amtool):
    outcome(repo_with("RecipientList", {"metadata": {"name": "discard"}}), amtool)


# -- found by these properties: located where it is written ---------------------------------------

@pytest.mark.parametrize("character", ["\x01", "\x7f", "\x93", "\ufffe"])
def test_a_character_yaml_does_not_allow_is_located_where_it_is_written(character):
    team = ('apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: l}\n'
            f'spec: {{recipients: [{{name: "A{character}B", email: x@example.com}}]}}\n')
    with pytest.raises(SpecErrors) as caught:
        parse_specs({"team.yaml": team.encode()})
    assert [str(error).split(": ", 1)[0] for error in caught.value.errors] == ["team.yaml:4:30"]
