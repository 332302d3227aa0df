"""Property: whatever bytes or structures arrive, the pipeline ends in a located error or a
valid render, never another exception. Hypothesis generates the inputs."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.errors import SpecErrors
from reconciler.pipeline import parse_specs
from reconciler.render import RenderOptions, render_alertmanager_config

FIELDS = ["host", "port", "ssl", "starttls", "tls", "username", "passwordFile", "passwordEnv", "from", "hello",
          "enabled", "recipients", "matchers", "repeatInterval", "groupBy", "groupWait", "groupInterval",
          "sendResolved", "password", "caFile", "serverName", "insecureSkipVerify", "email", "name"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=40), st.sampled_from(["a@example.com", "ops@@example", "12h", "0", "465", "25",
                                                           'severity="critical"', "team=~\"(\"", "smtp.example.com",
                                                           "/etc/pw", "SMTP_PASSWORD", "x\r\nBcc: y@z.com"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6)),
    max_leaves=25)
DOCUMENT = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["notify-reconciler/v1", "notify-reconciler/v1", "v2"]),
    "kind": st.sampled_from(["EmailServer", "RecipientList", "NotificationPolicy", "Nope"]),
    "metadata": st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "team-db", "Bad_Name", ""])}),
    "spec": st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8),
})
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(files: dict[str, bytes]) -> None:
    try:
        specs = parse_specs(files)
    except SpecErrors as exc:
        for error in exc.errors:
            assert error.file in files and error.line >= 1 and error.column >= 1, str(error)
            assert str(error).startswith(f"{error.file}:{error.line}:{error.column}: ")
        return
    text = render_alertmanager_config(specs, options=RenderOptions(hello_default="fuzz"))
    assert isinstance(YAML(typ="safe").load(text), dict)


@FUZZ
@given(st.binary(max_size=600))
def test_any_bytes(data):
    outcome({"f.yaml": data})


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`,? \n\t0123456789")), max_size=300))
def test_yaml_punctuation_soup(text):
    outcome({"f.yaml": text.encode()})


@FUZZ
@given(st.lists(DOCUMENT, min_size=1, max_size=4))
def test_documents_of_every_shape(documents):
    # JSON is YAML: each document a line of its own file, some files with several.
    files = {f"d{i}.yaml": json.dumps(document).encode() for i, document in enumerate(documents)}
    outcome(files)


@FUZZ
@given(st.lists(st.sampled_from(["a@example.com", "B@example.com", "b@EXAMPLE.com", "x.y+z@sub.example.org",
                                 "not-an-address", "c@d.e"]), min_size=0, max_size=60))
def test_recipient_lists_of_any_size(addresses):
    server = {"apiVersion": "notify-reconciler/v1", "kind": "EmailServer", "metadata": {"name": "s"},
              "spec": {"host": "smtp.example.com", "from": "a@example.com"}}
    lst = {"apiVersion": "notify-reconciler/v1", "kind": "RecipientList", "metadata": {"name": "l"},
           "spec": {"recipients": addresses}}
    outcome({"s.yaml": json.dumps(server).encode(), "l.yaml": json.dumps(lst).encode()})
