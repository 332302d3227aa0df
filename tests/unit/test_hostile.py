"""Hostile input ends in a located error or a valid result: never a traceback, a hang or
unbounded memory. The time bound here guards against hangs; it is not a speed target."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import SpecErrors
from reconciler.loader import DEFAULT_LIMITS
from reconciler.model import Specs
from reconciler.pipeline import parse_specs
from reconciler.source import read_spec_folder

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_SECONDS = 10
VALID = (ROOT / "examples" / "config-repo" / "team-db.yaml").read_bytes()
SERVER = (ROOT / "examples" / "config-repo" / "email-server.yaml").read_bytes()


def outcome(files: dict[str, bytes]) -> Specs | SpecErrors:
    started = time.perf_counter()
    try:
        result = parse_specs(files)
    except SpecErrors as exc:
        result = exc
        for error in exc.errors:
            assert error.line >= 1 and error.column >= 1 and error.file in files, str(error)
    assert time.perf_counter() - started < HANG_GUARD_SECONDS
    return result


def billion_laughs(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("name, data, expected", [
    ("alias bomb", billion_laughs(), "aliases count each time they are used"),
    ("deep flow lists", b"[" * 10_000 + b"]" * 10_000, "nesting is deeper"),
    ("deep flow maps", b"{a: " * 10_000 + b"1" + b"}" * 10_000, "nesting is deeper"),
    ("deep unclosed lists", b"[" * 10_000, "nesting is deeper"),
    ("deep block maps", "".join(f"{'  ' * n}k{n}:\n" for n in range(200)).encode(), "nesting is deeper"),
    ("python tag", b"a: !!python/object/apply:os.system ['touch /tmp/notify-reconciler-pwned']\n",
     "YAML tag !!python/object/apply:os.system is not allowed"),
    ("duplicate keys", b"apiVersion: notify-reconciler/v1\napiVersion: notify-reconciler/v1\n", "given twice"),
    ("not utf-8", b"\xff\xfe\x00a", "is not UTF-8"),
    ("five megabytes", b"# " + b"x" * (5 * 1024 * 1024), "more than the 1,048,576 a spec file may have"),
    ("binary junk", bytes(range(256)) * 4, "is not UTF-8"),
    ("text with a NUL", b"a: 1\n\x00\n", "NUL character"),
])
def test_hostile_file_is_a_located_error(name, data, expected):
    result = outcome({"evil.yaml": data})
    assert isinstance(result, SpecErrors)
    assert expected in str(result)


def test_python_tags_never_run_code():
    marker = Path("/tmp/notify-reconciler-pwned")
    marker.unlink(missing_ok=True)
    outcome({"evil.yaml": b"a: !!python/object/apply:os.system ['touch /tmp/notify-reconciler-pwned']\n"})
    assert not marker.exists()


def test_random_bytes_never_escape():
    rng = random.Random(20261124)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        outcome({"random.yaml": data})


def test_mutated_specs_never_escape():
    rng = random.Random(5321)
    alphabet = b"-:{}[]&*!|>'\"#%@`,? \n\t\r\\abcxyz0129\xc3\xa9"
    valid_seen = 0
    for _ in range(200):
        data = bytearray(VALID)
        for _ in range(rng.randrange(1, 6)):
            position = rng.randrange(len(data))
            action = rng.randrange(3)
            if action == 0:
                del data[position]
            elif action == 1:
                data.insert(position, rng.choice(alphabet))
            else:
                data[position] = rng.choice(alphabet)
        result = outcome({"server.yaml": SERVER, "team.yaml": bytes(data)})
        valid_seen += isinstance(result, Specs)
    assert valid_seen < 200  # the mutations did break things


def test_huge_file_on_disk_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as out:
        out.truncate(50 * 1024 * 1024)  # sparse: 50 MB that cost nothing to make
    tree = read_spec_folder(tmp_path)
    assert len(tree.files["big.yaml"]) == DEFAULT_LIMITS.max_file_bytes + 1
    assert "more than the 1,048,576" in str(outcome(tree.files))


def test_symlinks_leaving_the_folder_are_refused_and_not_read(tmp_path, capsys):
    secret = tmp_path / "outside" / "shadow.yaml"
    secret.parent.mkdir()
    secret.write_text("root-password: hunter2\n")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "server.yaml").write_bytes(SERVER)
    (specs / "shadow.yaml").symlink_to(secret)
    (specs / "linked-dir").symlink_to(secret.parent, target_is_directory=True)
    (specs / "broken.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (specs / "inside.yaml").symlink_to(specs / "server.yaml")
    tree = read_spec_folder(specs)
    assert "shadow.yaml" not in tree.files and "hunter2" not in repr(tree.files)
    assert main(["validate", str(specs)]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err
    lines = err.splitlines()
    assert lines[0] == "broken.yaml:1:1: broken symlink: remove it or point it at a file inside the spec folder"
    assert lines[1].startswith("linked-dir:1:1: symlink to ") and "outside the spec folder" in lines[1]
    # A link inside the folder is read: here it makes the same EmailServer appear twice.
    assert lines[2].startswith("server.yaml:6:9: metadata.name: an EmailServer named 'corporate-smtp' is "
                               "already defined at inside.yaml:6:9")
    assert lines[3].startswith("shadow.yaml:1:1: symlink to ") and "outside the spec folder" in lines[3]


@pytest.mark.parametrize("recipient", [
    '{name: "Ops\\r\\nBcc: evil@example.net", email: ops@example.com}',
    '"ops@example.com\\r\\nBcc: evil@example.net"',
    '"ops@example.com\\nX-Injected: 1"',
    '{name: "Ops\\u0085", email: ops@example.com}',
])
def test_header_injection_is_refused(recipient):
    text = VALID.replace(b"- dba-lead@example.com", f"- {recipient}".encode())
    result = outcome({"server.yaml": SERVER, "team.yaml": text})
    assert isinstance(result, SpecErrors) and "spec.recipients[0]" in str(result)
