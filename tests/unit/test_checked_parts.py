"""The record of what amtool accepted (deploy.CheckedParts): digests only, keyed by everything
a list part's verdict depends on, kept on disk across restarts, and ignored when damaged or
foreign (the whole config is checked then)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from reconciler.io import deploy
from reconciler.io.cache import DiskCache
from reconciler.io.deploy import CheckedParts, check_context, part_digest
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import render_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config-repo"
BASE_WITH_A_PASSWORD = ("global:\n  slack_api_url: https://hooks.example.com/T0/B0/s3cr3t-webhook-token\n"
                        "route:\n  receiver: chat\nreceivers:\n  - name: chat\n")


@pytest.fixture
def rendered():
    files = {path.name: path.read_bytes() for path in EXAMPLE.glob("*.yaml")}
    return render_config(parse_specs(files), BASE_WITH_A_PASSWORD)


@pytest.fixture
def fake_amtool(tmp_path, monkeypatch) -> Path:
    """An `amtool` this test controls the identity of (nothing runs it here)."""
    path = tmp_path / "bin" / "amtool"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    monkeypatch.setenv("PATH", str(path.parent))
    return path


def test_a_part_digest_tells_where_the_route_ends():
    assert part_digest(("ab", "c")) != part_digest(("a", "bc"))
    assert part_digest(("a", "b")) == part_digest(("a", "b"))


def test_the_context_changes_with_the_skeleton_the_templates_and_amtool(rendered, fake_amtool):
    context = check_context(rendered)
    assert check_context(rendered) == context
    assert check_context(dataclasses.replace(rendered, skeleton=rendered.skeleton + "# more\n")) != context
    assert check_context(dataclasses.replace(rendered, templates=(("t.tmpl", b"a"),))) != context
    assert check_context(dataclasses.replace(rendered, templates=(("t.tmpl", b"b"),))) \
        != check_context(dataclasses.replace(rendered, templates=(("t.tmpl", b"a"),)))
    # Another amtool (an upgrade changes its size or modification time), or none at all.
    info = fake_amtool.stat()
    os.utime(fake_amtool, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    upgraded = check_context(rendered)
    assert upgraded != context
    fake_amtool.unlink()
    assert check_context(rendered) not in (context, upgraded)


def test_a_record_outlives_the_process_and_holds_no_config_text(rendered, tmp_path):
    disk = DiskCache(tmp_path / "cache")
    context, lists = check_context(rendered), frozenset(map(part_digest, rendered.lists))
    CheckedParts(disk, key="accepted\0/out.yml").accept(context, lists)

    restarted = CheckedParts(DiskCache(tmp_path / "cache"), key="accepted\0/out.yml")
    assert restarted.accepted_in(context) == lists
    assert restarted.accepted_in(b"another context") is None
    assert CheckedParts(DiskCache(tmp_path / "cache"), key="accepted\0/other.yml").accepted_in(context) is None

    stored = b"".join(path.read_bytes() for path in (tmp_path / "cache").rglob("*") if path.is_file())
    for text in ("s3cr3t-webhook-token", "slack_api_url", "@example.com", "notify-reconciler/"):
        assert text.encode() not in stored


@pytest.mark.parametrize("how", ["truncated", "corrupt", "foreign value", "wrong types"])
def test_a_damaged_or_foreign_record_is_ignored(rendered, tmp_path, how):
    disk = DiskCache(tmp_path / "cache")
    context, lists = check_context(rendered), frozenset(map(part_digest, rendered.lists))
    CheckedParts(disk, key="accepted").accept(context, lists)
    [entry] = [path for path in (tmp_path / "cache").rglob("*") if path.is_file()]
    if how == "truncated":
        entry.write_bytes(entry.read_bytes()[:-7])
    elif how == "corrupt":
        data = bytearray(entry.read_bytes())
        data[-5] ^= 0xFF
        entry.write_bytes(bytes(data))
    elif how == "foreign value":
        disk.put("accepted", "a record of someone else's")
    else:
        disk.put("accepted", (context, frozenset(rendered.lists)))  # text, not digests
    assert CheckedParts(DiskCache(tmp_path / "cache"), key="accepted").accepted_in(context) is None


def test_only_the_new_parts_are_checked_and_a_refusal_is_not_recorded(rendered, tmp_path, monkeypatch):
    given: list[str] = []
    refuse = {"now": False}

    def check_config(text, templates=()):
        given.append(text)
        if refuse["now"]:
            raise deploy.DeployError("refused")

    monkeypatch.setattr(deploy, "check_config", check_config)
    disk = DiskCache(tmp_path / "cache")
    deploy.check_rendered(rendered, CheckedParts(disk))
    assert given == [rendered.text]

    first, *others = rendered.lists
    changed = (first[0], first[1].replace("email_configs:", "email_configs:\n  # changed"))
    again = dataclasses.replace(rendered, lists=(changed, *others))
    given.clear()
    refuse["now"] = True
    with pytest.raises(deploy.DeployError):
        deploy.check_rendered(again, CheckedParts(disk))
    assert given == [rendered.with_lists([changed]), again.text]  # the part, then the whole text for the lines

    refuse["now"] = False
    given.clear()
    deploy.check_rendered(again, CheckedParts(disk))  # a restart after the refusal: still only the new part
    assert given == [rendered.with_lists([changed])]
    given.clear()
    deploy.check_rendered(again, CheckedParts(disk))  # ...and now it is recorded
    assert given == [rendered.with_lists([])]
