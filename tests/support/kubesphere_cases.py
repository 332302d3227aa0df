"""Generated alertSelectors, matchers and label sets for the KubeSphere translation tests
(tests/unit/test_kubesphere_selector.py, tests/integration/test_kubesphere_amtool.py)."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from reconciler.am.matchers import Matcher
from reconciler.kubesphere.selector import Requirement, Selector

KEYS = ["severity", "team", "_hidden", "app.kubernetes.io/name"]
"""Alert labels, one Kubernetes cannot name, one no alert can have."""
VALUES = ["critical", "db", "a.b", "x y", "DB", "dbx", "a\nb", "ü"]
REGEXES = ["", "db", "^db$", "a|b", "^$", "x y", "(?i)db", "^(?:crit.*)$", "^a.b$", "b$", "^(?:)$", ".", "d?"]
LABEL_SETS = [dict(zip(keys, values)) for size in range(3) for keys in itertools.combinations(KEYS[:3], size)
              for values in itertools.product(VALUES[:5] if size < 2 else VALUES[:3], repeat=size)]
LABEL_SETS += [{"severity": value} for value in VALUES[5:]] + [{"team": "a\nb", "severity": "ü"}]


requirement = st.one_of(
    st.builds(Requirement, st.sampled_from(KEYS[::3] + ["severity", "team"]), st.sampled_from(["In", "NotIn"]),
              st.lists(st.sampled_from(["critical", "db", "a.b", "", "DB"]), min_size=1, max_size=3).map(tuple)),
    st.builds(Requirement, st.sampled_from(KEYS[::3] + ["team"]), st.sampled_from(["Exists", "DoesNotExist"])),
    st.builds(lambda key, regex: Requirement(key, "Match", (), regex), st.sampled_from(KEYS),
              st.sampled_from(REGEXES)))
selector = st.builds(Selector, st.lists(st.tuples(st.sampled_from(["severity", "team"]),
                                                  st.sampled_from(["critical", "db", ""])),
                                        max_size=1, unique_by=lambda pair: pair[0]).map(tuple),
                     st.lists(requirement, max_size=3).map(tuple))
matcher = st.builds(Matcher, st.sampled_from(KEYS[:3]), st.sampled_from(["=", "!=", "=~", "!~"]),
                    st.sampled_from(VALUES + REGEXES + ["db|critical", "|db", "a\\.b|DB"]))
