"""diff.unified_diff: the matcher that skips the common first and last lines gives a correct
diff, the one difflib gives over the whole texts for a render."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.diff import _TrimmedMatcher, unified_diff

LINES = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "  send_resolved: true\n", "x"]), max_size=30)


@settings(max_examples=300, deadline=None)
@given(LINES, LINES)
def test_the_opcodes_cover_both_texts_and_equal_runs_are_equal(before, after):
    codes = _TrimmedMatcher(before, after).get_opcodes()
    assert codes[0][1] == 0 and codes[0][3] == 0
    assert codes[-1][2] == len(before) and codes[-1][4] == len(after)
    for (_, _, i2, _, j2), (_, i1, _, j1, _) in zip(codes, codes[1:]):
        assert (i1, j1) == (i2, j2)
    rebuilt = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal":
            assert before[i1:i2] == after[j1:j2]
        rebuilt += after[j1:j2]
    assert rebuilt == after


def test_a_render_diff_is_the_one_difflib_gives_over_the_whole_texts():
    from pathlib import Path

    from reconciler.specs.pipeline import parse_specs
    from reconciler.core.render import render_alertmanager_config

    root = Path(__file__).resolve().parents[2]
    files = {path.name: path.read_bytes() for path in (root / "examples" / "config-repo").glob("*.yaml")}
    base = (root / "examples" / "alertmanager-base.yml").read_text()
    before = render_alertmanager_config(parse_specs(files), base)
    files["team-db.yaml"] = files["team-db.yaml"].replace(b"dba-lead@", b"dba-chief@")
    after = render_alertmanager_config(parse_specs(files), base)
    plain = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "a", "b"))
    assert "+" in plain and "dba-chief" in plain
    assert unified_diff(before, after, "a", "b") == plain
