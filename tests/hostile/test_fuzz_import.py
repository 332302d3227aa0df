"""Property: whatever text `import` and who-gets' reading of a base are given, the answer is a
result or a located error (SpecErrors, a BaseConfigError), never another exception. Issue 22
found a config nested 3,000 deep ending in "internal error (a bug...): RecursionError"."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.am.reading import read_config
from reconciler.am.receivers import receivers
from reconciler.am.routes import route_tree, time_intervals
from reconciler.am.secret import unwrap
from reconciler.errors import ReconcilerError
from reconciler.core.importer import import_config

KEYS = ["route", "receiver", "routes", "match", "match_re", "matchers", "continue", "group_by", "group_wait",
        "receivers", "name", "email_configs", "to", "send_resolved", "global", "smtp_smarthost", "smtp_from",
        "smtp_auth_password", "require_tls", "tls_config", "headers", "webhook_configs", "auth_password",
        "mute_time_intervals", "time_intervals", "kind", "data", "stringData", "items", "<<"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(
    ["", "x", "a@b.c", "h:25", "true", "~", 'a="b"', 'a=~"("', "{{ x }}", "0x1F", "Secret", "List",
     'a@b.c, "N" <n@b.c>', "alertmanager.yaml"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                      max_leaves=30)
CONFIG = (Path(__file__).resolve().parents[1] / "data" / "corpus" / "alertmanager-testdata-conf-good.yaml").read_text()
PUNCTUATION = st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%<=?,.~1 \n\t")), max_size=60)


def read_every_way(text: str) -> None:
    for step in (lambda: import_config(text, "x.yml"), lambda: unwrap(text, "x.yml"),
                 lambda: (lambda read: (route_tree(read), receivers(read), time_intervals(read)))(read_config(text))):
        try:
            step()
        except ReconcilerError:
            pass


@settings(max_examples=120, deadline=None)
@given(VALUES)
def test_any_structure_is_imported_or_refused_with_a_located_error(value):
    read_every_way(json.dumps(value))  # JSON is YAML


@settings(max_examples=120, deadline=None)
@given(st.integers(0, len(CONFIG)), PUNCTUATION)
def test_a_real_config_with_any_text_spliced_in_is_imported_or_refused(at, spliced):
    read_every_way(CONFIG[:at] + spliced + CONFIG[at:])


def test_configs_nested_thousands_deep_are_refused():
    deep = "route:\n  receiver: x\n" + "".join("  " + "    " * level + "routes:\n" + "  " + "    " * level
                                             + "  - receiver: x\n" for level in range(3000))
    for text in (deep, "a: " + "[" * 50_000 + "]" * 50_000, "- " * 20_000 + "x\n"):
        read_every_way(text)
