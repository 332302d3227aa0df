"""The parse cache on disk (reconciler/io/cache.py) changes nothing but speed: a second run says
exactly what the first said, a changed file is parsed again, and an entry that is truncated,
corrupt, written for another key or by someone else is ignored."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.io import cache as cache_module
from reconciler.io.cache import DiskCache, PersistentParseCache, blob_id, user_cache_dir
from reconciler.cli.main import main
from reconciler.errors import SpecErrors
from reconciler.specs.pipeline import ParsedFile, parse_specs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config-repo"
BAD = ROOT / "tests" / "data" / "invalid" / "bad-address"


@pytest.fixture
def user_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "notify-reconciler"


def entries(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_blob_id_is_gits():
    data = b"apiVersion: notify-reconciler/v1\n"
    git = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True)
    assert blob_id(data) == git.stdout.decode().strip()


def test_user_cache_dir_follows_xdg():
    assert user_cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/notify-reconciler")
    assert user_cache_dir({"XDG_CACHE_HOME": "relative", "HOME": "/h"}) == Path("/h/.cache/notify-reconciler")
    assert user_cache_dir({}) is None


@pytest.mark.parametrize("case, warned", [(EXAMPLE, False), (EXAMPLE, True), (BAD, False)],
                         ids=["valid", "valid-with-a-warning", "invalid"])
def test_a_second_run_says_exactly_what_the_first_said(tmp_path, user_cache, capsys, case, warned):
    folder = tmp_path / "specs"
    shutil.copytree(case, folder, ignore=shutil.ignore_patterns("expected.txt"))
    if warned:  # port 25, STARTTLS by default: validate warns
        server = folder / "email-server.yaml"
        server.write_text(server.read_text().replace("port: 587", "port: 25").replace("starttls: true", ""))
    first = run(capsys, "validate", str(folder))
    assert ("warning:" in first[2]) is warned
    assert entries(user_cache), "the first run wrote nothing"
    stamps = {path: path.stat().st_mtime_ns for path in entries(user_cache)}
    assert run(capsys, "validate", str(folder)) == first
    assert {path: path.stat().st_mtime_ns for path in entries(user_cache)} == stamps  # nothing written again
    assert run(capsys, "validate", "--no-cache", str(folder)) == first


def test_a_changed_file_is_parsed_again(tmp_path, user_cache, capsys):
    folder = tmp_path / "specs"
    shutil.copytree(EXAMPLE, folder)
    assert run(capsys, "validate", str(folder))[0] == 0
    team = folder / "team-db.yaml"
    team.write_text(team.read_text().replace("@example.com", "@@example.com", 1))
    status, _, err = run(capsys, "validate", str(folder))
    assert status == 1 and "is not an e-mail address" in err


def test_no_cache_neither_reads_nor_writes(tmp_path, user_cache, capsys):
    assert run(capsys, "validate", "--no-cache", str(EXAMPLE))[0] == 0
    assert not user_cache.exists()


def parsed(folder: Path, cache: PersistentParseCache):
    files = {path.name: path.read_bytes() for path in sorted(folder.glob("*.yaml"))}
    return parse_specs(files, digests={name: blob_id(data) for name, data in files.items()}, cache=cache)


def damage_every_entry(folder: Path, how) -> None:
    for path in entries(folder):
        path.write_bytes(how(path.read_bytes()))


def resealed(data: bytes, payload: bytes) -> bytes:
    magic = cache_module._MAGIC
    return magic + hashlib.sha256(payload).digest() + payload


@pytest.mark.parametrize("how", [
    pytest.param(lambda data: data[:len(data) // 2], id="truncated"),
    pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="corrupt"),
    pytest.param(lambda data: b"", id="empty"),
    pytest.param(lambda data: b"\x80\x04garbage", id="not-ours"),
    pytest.param(lambda data: resealed(data, b"\x80\x04garbage."), id="bad-pickle-good-checksum"),
    pytest.param(lambda data: resealed(data, pickle.dumps((pickle.loads(data[len(cache_module._MAGIC) + 32:])[0],
                                                           ["not", "a", "parsed", "file"]))), id="foreign-value"),
])
def test_a_damaged_or_foreign_entry_is_ignored_and_parsed_again(tmp_path, how):
    disk = DiskCache(tmp_path / "cache")
    expected = parsed(EXAMPLE, PersistentParseCache(disk))
    damage_every_entry(tmp_path / "cache", how)
    assert parsed(EXAMPLE, PersistentParseCache(disk)) == expected
    # ... and the next run finds good entries again
    fresh = PersistentParseCache(DiskCache(tmp_path / "cache"))
    parsed(EXAMPLE, fresh)
    assert all(isinstance(fresh.get(key), ParsedFile) for key in list(fresh))


def test_an_entry_moved_to_another_entrys_place_is_ignored(tmp_path):
    disk = DiskCache(tmp_path / "cache")
    expected = parsed(EXAMPLE, PersistentParseCache(disk))
    first, second, *_ = entries(tmp_path / "cache")
    second.write_bytes(first.read_bytes())  # a well-formed entry, for another file
    assert parsed(EXAMPLE, PersistentParseCache(disk)) == expected


def test_an_entry_of_another_path_is_not_used(tmp_path):
    disk = DiskCache(tmp_path / "cache")
    cache = PersistentParseCache(disk)
    parsed(EXAMPLE, cache)
    # Same bytes under another name: the errors and objects name the file, so it is parsed again.
    data = (EXAMPLE / "team-db.yaml").read_bytes()
    other = PersistentParseCache(disk)
    assert other.get(("renamed.yaml", blob_id(data))) is None


def test_cached_errors_are_the_located_errors(tmp_path):
    disk = DiskCache(tmp_path / "cache")
    with pytest.raises(SpecErrors) as cold:
        parsed(BAD, PersistentParseCache(disk))
    with pytest.raises(SpecErrors) as warm:
        parsed(BAD, PersistentParseCache(disk))
    assert [str(error) for error in warm.value.errors] == [str(error) for error in cold.value.errors]


def test_a_folder_others_can_write_to_is_not_used(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    os.chmod(folder, 0o777)
    disk = DiskCache(folder)
    disk.put("key", "value")
    assert disk.get("key") is None and not entries(folder)


def test_an_unwritable_place_costs_speed_only(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert run(capsys, "validate", str(EXAMPLE))[0] == 0


def test_diff_renders_again_when_a_spec_or_the_base_changes(tmp_path, user_cache, capsys):
    folder, base = tmp_path / "specs", tmp_path / "base.yml"
    shutil.copytree(EXAMPLE, folder)
    shutil.copy(ROOT / "examples" / "alertmanager-base.yml", base)
    output = tmp_path / "alertmanager.yml"
    config = tmp_path / "config.yaml"
    config.write_text(f"source:\n  repo: {folder}\ntarget:\n  output: {output}\n  base: {base}\n  alertmanagers: []\n"
                      f"stateDir: {tmp_path / 'state'}\n")
    assert run(capsys, "render", str(folder), "--base", str(base), "-o", str(output))[0] == 0
    diff = ("diff", str(folder), "--config", str(config), "--color", "never")
    assert run(capsys, *diff)[0] == 0
    assert run(capsys, *diff)[0] == 0  # from the cache: still no change
    team = folder / "team-db.yaml"
    team.write_text(team.read_text().replace("@example.com", ".new@example.com", 1))
    status, out, _ = run(capsys, *diff)
    assert status == 1 and ".new@example.com" in out
    team.write_text(team.read_text().replace(".new@example.com", "@example.com", 1))
    assert run(capsys, *diff)[0] == 0
    base.write_text(base.read_text().replace("resolve_timeout: 5m", "resolve_timeout: 6m"))
    status, out, _ = run(capsys, *diff)
    assert status == 1 and "+  resolve_timeout: 6m" in out
    team.write_text(team.read_text().replace("@example.com", "@@example.com", 1))
    status, _, err = run(capsys, *diff)
    assert status == 2 and "is not an e-mail address" in err


def lists(count: int) -> dict[str, bytes]:
    """An EmailServer and `count` one-address RecipientLists."""
    return {"server.yaml": (EXAMPLE / "email-server.yaml").read_bytes()} | {f"team-{i:03d}.yaml": (f"apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata:\n  name: team-{i:03d}\n"
                                   f"spec:\n  recipients: [oncall@team-{i:03d}.example.com]\n").encode()
            for i in range(count)}


@pytest.fixture
def parse_log(monkeypatch) -> list[str]:
    """The names of the files parsed (not taken from a cache), in order."""
    from reconciler.specs import pipeline

    names: list[str] = []
    real = pipeline._parse_file
    monkeypatch.setattr(pipeline, "_parse_file", lambda name, *rest: names.append(name) or real(name, *rest))
    return names


def parse_tree(files: dict[str, bytes], disk: DiskCache):
    cache = PersistentParseCache(disk, location="/the/folder")
    return parse_specs(files, digests={name: blob_id(data) for name, data in files.items()}, cache=cache)


def test_a_cold_run_writes_one_snapshot_and_a_changed_file_one_entry(tmp_path, parse_log):
    disk, files = DiskCache(tmp_path / "cache"), lists(40)
    cold = parse_tree(files, disk)
    assert len(parse_log) == 41 and len(entries(tmp_path / "cache")) == 1  # one file, not 41
    parse_log.clear()
    assert parse_tree(files, disk) == cold and parse_log == []
    files["team-007.yaml"] = files["team-007.yaml"].replace(b"oncall@", b"ops@")
    parse_tree(files, disk)
    assert parse_log == ["team-007.yaml"] and len(entries(tmp_path / "cache")) == 2
    parse_log.clear()
    parse_tree(files, disk)
    assert parse_log == []


def test_a_damaged_snapshot_is_ignored(tmp_path, parse_log):
    disk, files = DiskCache(tmp_path / "cache"), lists(40)
    cold = parse_tree(files, disk)
    damage_every_entry(tmp_path / "cache", lambda data: data[:-7])
    parse_log.clear()
    assert parse_tree(files, disk) == cold and len(parse_log) == 41


def test_a_changed_template_file_is_checked_again_not_taken_as_valid_from_the_cache(tmp_path, user_cache, capsys):
    folder = tmp_path / "specs"
    shutil.copytree(ROOT / "examples" / "mail-preview", folder)
    template = next(folder.rglob("*.html.tmpl"))
    assert run(capsys, "validate", str(folder))[0] == 0
    assert run(capsys, "validate", str(folder))[0] == 0  # the cached answer
    template.write_text(template.read_text() + "{{ .NoSuchField }\n")  # no spec file changed
    status, _, err = run(capsys, "validate", str(folder))
    assert status == 1 and template.name in err


# -- rendered list parts (PersistentRenderCache) ---------------------------------------------

@pytest.fixture
def render_log(monkeypatch) -> list[str]:
    """The names of the lists whose receiver was rendered (not taken from a cache), in order."""
    from reconciler.core import render

    names: list[str] = []
    real = render._receiver
    monkeypatch.setattr(render, "_receiver", lambda recipient_list, *rest: names.append(recipient_list.name)
                        or real(recipient_list, *rest))
    return names


def rendered_again(files: dict[str, bytes], disk: DiskCache, log: list[str]) -> list[str]:
    """A pass of a freshly started process (parse and render with caches that start from
    `disk`), which must give the bytes of a render without caches; the lists it rendered."""
    from reconciler.io.cache import PersistentRenderCache
    from reconciler.core.render import render_config

    expected = render_config(parse_specs(files)).text
    log.clear()
    parsed = PersistentParseCache(disk, location="/the/folder")
    specs = parse_specs(files, digests={name: blob_id(data) for name, data in files.items()}, cache=parsed)
    assert render_config(specs, cache=PersistentRenderCache(disk, parsed, "/the/folder")).text == expected
    return list(log)


def test_a_restart_renders_only_the_lists_that_changed_and_the_same_bytes(tmp_path, render_log):
    disk, files = DiskCache(tmp_path / "cache"), lists(40)
    assert len(rendered_again(files, disk, render_log)) == 40
    assert rendered_again(files, disk, render_log) == []

    files["team-007.yaml"] = files["team-007.yaml"].replace(b"oncall@", b"ops@")
    assert rendered_again(files, disk, render_log) == ["team-007"]
    assert rendered_again(files, disk, render_log) == []  # its own entry now

    # What every list's part depends on besides its file (the server's TLS here) renders them all again.
    files["server.yaml"] += b"  tls:\n    serverName: mail.example.com\n"
    assert len(rendered_again(files, disk, render_log)) == 40
    assert rendered_again(files, disk, render_log) == []


@pytest.mark.parametrize("how", [lambda data: data[:-7], lambda data: data[:-40] + bytes(40)],
                         ids=["truncated", "corrupt"])
def test_damaged_parts_are_rendered_again(tmp_path, render_log, how):
    disk, files = DiskCache(tmp_path / "cache"), lists(40)
    rendered_again(files, disk, render_log)
    damage_every_entry(tmp_path / "cache", how)
    assert len(rendered_again(files, disk, render_log)) == 40


def test_a_part_of_another_shape_is_not_used(tmp_path, render_log, monkeypatch):
    disk, files = DiskCache(tmp_path / "cache"), lists(40)
    rendered_again(files, disk, render_log)
    real_get = DiskCache.get

    def foreign(self, key, slot=None):
        value = real_get(self, key, slot)
        if key.startswith("rendered\0") and isinstance(value, dict):
            return {place: ("not a context", ("- receiver: someone-else\n", "")) for place in value}
        return value

    monkeypatch.setattr(DiskCache, "get", foreign)
    assert len(rendered_again(files, disk, render_log)) == 40


def test_a_recipient_list_comes_back_from_a_pickle_equal_and_of_the_same_types():
    """RecipientList pickles its recipients as plain tuples (model.RecipientList.__reduce__):
    what comes back must be the same list, Recipients and all, every field included."""
    from reconciler.errors import Location
    from reconciler.specs.model import Recipient, RecipientList

    original = RecipientList("ops", (Recipient("a@example.com"), Recipient("b@example.com", "B")),
                             matchers=('team="ops"',), location=Location("ops.yaml", 3, 1), delivery="perRecipient",
                             window_references=(("spec.activeDuring[0]", Location("ops.yaml", 9, 5)),))
    back = pickle.loads(pickle.dumps(original, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == original and type(back) is RecipientList
    assert [type(item) for item in back.recipients] == [Recipient, Recipient]
    assert back.recipients[1].name == "B" and back.recipients[1].email == "b@example.com"
    assert back.location == original.location and back.window_references == original.window_references
    assert back.__dict__ == original.__dict__


def test_a_folder_keeps_one_snapshot_whatever_the_code(tmp_path, monkeypatch):
    """A snapshot stands in a slot of its own (the folder's), which the next one replaces:
    keyed by content alone, every upgrade added a snapshot that nothing removed."""
    disk, files = DiskCache(tmp_path / "cache"), lists(40)
    key = ("team-000.yaml", blob_id(files["team-000.yaml"]))

    def code(fingerprint: str) -> None:
        monkeypatch.setattr(cache_module, "code_fingerprint", lambda: fingerprint)

    code("code 1")
    parse_tree(files, disk)
    first = entries(tmp_path / "cache")
    assert len(first) == 1
    code("code 2")  # an upgrade: its own snapshot, in the same place
    assert PersistentParseCache(disk, location="/the/folder").get(key) is None  # code 1's is not used
    parse_tree(files, disk)
    assert entries(tmp_path / "cache") == first
    assert PersistentParseCache(disk, location="/the/folder").get(key) is not None
    code("code 1")
    assert PersistentParseCache(disk, location="/the/folder").get(key) is None  # replaced


def test_a_folder_keeps_its_last_answer_only(tmp_path, user_cache, capsys):
    """validate's and diff's answers for a folder (diff's is its whole render) stand in one
    slot a folder and question: a changed tree replaces the answer instead of adding one."""
    folder = tmp_path / "specs"
    shutil.copytree(EXAMPLE, folder)
    assert run(capsys, "validate", str(folder))[0] == 0
    before = entries(user_cache)
    team = folder / "team-db.yaml"
    for interval in ("2h", "3h", "5h"):
        team.write_text(re.sub(r"repeatInterval: \S+", f"repeatInterval: {interval}", team.read_text()))
        assert run(capsys, "validate", str(folder))[0] == 0
    after = entries(user_cache)
    # Each new version of the file is a parse entry of its own (small, content-addressed); the
    # verdict is not: one file more for each version, not two.
    assert len(after) == len(before) + 3


def test_the_code_fingerprint_covers_the_modules_of_subpackages():
    # A change to reconciler/am/*.py changes how a base or a render is read: cached results
    # made by the old code must not be used (a non-recursive glob missed them).
    # After the move into subpackages, a fingerprint of io/ alone would miss them all.
    package = cache_module.PACKAGE
    assert (package / "__init__.py").is_file() and package.name == "reconciler"
    covered = {path.relative_to(package).as_posix() for path in cache_module.code_files()}
    assert {"__init__.py", "io/cache.py", "am/matchers.py", "am/__init__.py", "specs/model.py",
            "core/render.py", "yamlio/loader.py"} <= covered
    assert any(name.startswith("schemas/") for name in covered)
