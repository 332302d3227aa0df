"""Hostile input ends in a located error or a valid result: never another exception, a hang,
unbounded memory, code execution or a read outside the spec folder.

The time bound guards against hangs (a bomb expanded: hours; a quadratic scan); it is not a
speed target (that is bench/'s job), so it is generous enough for a loaded 2-core machine."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.errors import SpecErrors
from reconciler.yamlio.loader import DEFAULT_LIMITS
from reconciler.specs.model import Specs
from reconciler.specs.pipeline import parse_specs
from reconciler.io.git_source import read_spec_folder

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_SECONDS = 30.0
SERVER = (ROOT / "examples" / "config-repo" / "email-server.yaml").read_bytes()
TEAM = (ROOT / "examples" / "config-repo" / "team-db.yaml").read_bytes()
FIVE_MB = 5 * 1024 * 1024


def outcome(files: dict[str, bytes]) -> Specs | SpecErrors:
    """parse_specs, which must end quickly in `Specs` or in `SpecErrors` whose every error is
    located in one of the given files."""
    started = time.perf_counter()
    try:
        result: Specs | SpecErrors = parse_specs(files)
    except SpecErrors as exc:
        result = exc
        assert exc.errors
        for error in exc.errors:
            assert error.file in files and error.line >= 1 and error.column >= 1, str(error)
    assert time.perf_counter() - started < HANG_GUARD_SECONDS
    assert isinstance(result, (Specs, SpecErrors))
    return result


def error_lines(files: dict[str, bytes]) -> list[str]:
    result = outcome(files)
    assert isinstance(result, SpecErrors), "hostile input was accepted"
    return [str(error) for error in result.errors]


def billion_laughs(levels: int = 9, fanout: int = 9) -> bytes:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * fanout) + "]")
    return ("\n".join(lines) + "\n").encode()


def mapping_bomb(levels: int = 9, fanout: int = 9) -> bytes:
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: lol" for i in range(fanout)) + "}"]
    for n in range(1, levels):
        lines.append(f"m{n}: &m{n} {{" + ", ".join(f"k{i}: *m{n - 1}" for i in range(fanout)) + "}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("data, expected", [
    (billion_laughs(), "values in one file (aliases count each time they are used): this is not a spec"),
    (mapping_bomb(), "values in one file (aliases count each time they are used): this is not a spec"),
    (b"[" * 10_000 + b"]" * 10_000, "nesting is deeper than the 32 levels a spec may have"),
    (b"[" * 10_000, "nesting is deeper than the 32 levels a spec may have"),
    (b"{a: " * 10_000 + b"1" + b"}" * 10_000, "nesting is deeper than the 32 levels a spec may have"),
    (b"{a: " * 10_000, "nesting is deeper than the 32 levels a spec may have"),
    (b"- " * 10_000 + b"x\n", "nesting is deeper than the 32 levels a spec may have"),
    ("".join(f"{'  ' * n}k{n}:\n" for n in range(300)).encode(), "nesting is deeper than the 32 levels"),
    (b"a: &x [*x]\n", "nesting is deeper than the 32 levels a spec may have"),
    (b"a: 1\n" * 10_000, "'a' is given twice in one mapping (first at line 1): keep one"),
    (b"apiVersion: notify-reconciler/v1\napiVersion: notify-reconciler/v2\n", "is given twice"),
    (b"# " + b"x" * FIVE_MB, "file is larger than the 1,048,576 bytes a spec file may have"),
    (b"a: " + b"x" * FIVE_MB + b"\n", "file is larger than the 1,048,576 bytes"),
    (b"a: !!python/object/apply:os.system ['true']\n", "YAML tag !!python/object/apply:os.system is not allowed"),
    (b"!!python/object/new:subprocess.Popen [[true]]\n", "YAML tag !!python/object/new:subprocess.Popen"),
    (b"\xff\xfe\x00a", "is not UTF-8"),
    (bytes(range(256)) * 4, "is not UTF-8"),
    (b"a: 1\n\x00\n", "NUL character"),
    (b"---\na: 1\n" * 5_000, "more than 1000 documents in one file: split it"),
])
def test_hostile_file_ends_in_a_located_error_quickly(data, expected):
    assert any(expected in line for line in error_lines({"evil.yaml": data}))


def test_an_alias_bomb_is_stopped_at_the_first_node_over_the_budget():
    [line] = error_lines({"evil.yaml": billion_laughs()})
    assert line.startswith("evil.yaml:") and f"more than {DEFAULT_LIMITS.max_nodes:,} values" in line


def test_python_tags_never_run_code(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = f"a: !!python/object/apply:os.system ['touch {marker}']\n".encode()
    error_lines({"evil.yaml": evil})
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "evil.yaml").write_bytes(evil)
    assert main(["validate", str(specs)]) == 1
    assert "YAML tag !!python/object/apply:os.system is not allowed" in capsys.readouterr().err
    assert not marker.exists()


RANDOM_ALPHABET = b"-:{}[]&*!|>'\"#%@`,? \n\t\r\\~.<=abcxyz0129"


def random_bytes(rng: random.Random) -> bytes:
    size = rng.randrange(1, 400)
    if rng.random() < 0.5:
        return bytes(rng.randrange(256) for _ in range(size))  # mostly not UTF-8 at all
    return bytes(rng.choice(RANDOM_ALPHABET) for _ in range(size))  # text that reaches the YAML parser


def test_random_bytes_end_in_specs_or_located_errors():
    rng = random.Random(20261124)
    for _ in range(200):
        outcome({"random.yaml": random_bytes(rng)})


def mutate(data: bytes, rng: random.Random) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        position = rng.randrange(len(mutated))
        action = rng.randrange(3)
        if action == 0:
            del mutated[position]
        elif action == 1:
            mutated.insert(position, rng.choice(RANDOM_ALPHABET + b"\xc3\xa9\x00\xff"))
        else:
            mutated[position] = rng.choice(RANDOM_ALPHABET + b"\xc3\xa9\x00\xff")
    return bytes(mutated)


def test_mutated_spec_files_end_in_specs_or_located_errors():
    rng = random.Random(5321)
    results = [outcome({"server.yaml": SERVER, "team.yaml": mutate(TEAM, rng)}) for _ in range(200)]
    valid = sum(isinstance(result, Specs) for result in results)
    assert 0 < valid < 200, "the mutations should break some files and leave some valid"


# -- files on disk -----------------------------------------------------------------------------

def test_a_five_megabyte_file_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (FIVE_MB - 2))
    started = time.perf_counter()
    tree = read_spec_folder(tmp_path)
    assert tree.files == {}  # its size is known before reading: nothing of it is read
    lines = [str(error) for error in tree.errors]
    assert time.perf_counter() - started < HANG_GUARD_SECONDS
    # The file's own size, not the bytes a reader got before it stopped.
    assert lines == [f"big.yaml:1:1: file is {FIVE_MB:,} bytes, more than the 1,048,576 bytes a spec file may have: "
                     "split it or remove what is not a spec"]


@pytest.fixture
def outside(tmp_path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "shadow.yaml").write_text("root-password: hunter2\n")
    return folder


@pytest.fixture
def specs_dir(tmp_path) -> Path:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "server.yaml").write_bytes(SERVER)
    return folder


def test_a_symlink_to_a_file_outside_is_refused_and_not_read(specs_dir, outside, capsys):
    (specs_dir / "shadow.yaml").symlink_to(outside / "shadow.yaml")
    (specs_dir / "sub").mkdir()
    (specs_dir / "sub" / "relative.yml").symlink_to(Path("..", "..", "outside", "shadow.yaml"))
    tree = read_spec_folder(specs_dir)
    assert sorted(tree.files) == ["server.yaml"]
    assert [str(error) for error in tree.errors] == [
        f"shadow.yaml:1:1: symlink to {outside / 'shadow.yaml'}, outside the spec folder: spec files must live "
        "inside it; copy the file in or remove the link",
        "sub/relative.yml:1:1: symlink to ../../outside/shadow.yaml, outside the spec folder: spec files must live "
        "inside it; copy the file in or remove the link",
    ]
    assert main(["validate", str(specs_dir)]) == 1
    captured = capsys.readouterr()
    assert "hunter2" not in captured.err + captured.out
    assert captured.err.splitlines() == [f"{specs_dir}/{error}" for error in tree.errors]


def test_a_symlink_outside_is_never_even_opened(specs_dir, outside):
    # Opening a FIFO for reading blocks until a writer comes: if the link were followed and
    # read, read_spec_folder would hang here instead of refusing the link.
    fifo = outside / "fifo.yaml"
    os.mkfifo(fifo)
    (specs_dir / "fifo.yaml").symlink_to(fifo)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(tree=read_spec_folder(specs_dir)), daemon=True)
    worker.start()
    worker.join(HANG_GUARD_SECONDS)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # let the stuck reader go
        pytest.fail("read_spec_folder opened a file outside the spec folder")
    assert "fifo.yaml" not in result["tree"].files
    assert [str(error) for error in result["tree"].errors] == [
        f"fifo.yaml:1:1: symlink to {fifo}, outside the spec folder: spec files must live inside it; copy the file "
        "in or remove the link"]


def test_a_symlinked_folder_outside_is_refused(specs_dir, outside):
    (specs_dir / "linked").symlink_to(outside, target_is_directory=True)
    tree = read_spec_folder(specs_dir)
    assert sorted(tree.files) == ["server.yaml"]
    assert [str(error) for error in tree.errors] == [
        f"linked:1:1: symlink to {outside}, outside the spec folder: spec files must live inside it"]


@pytest.mark.parametrize("target", ["nowhere.yaml", "/nonexistent/spec.yaml", "loop.yaml"])
def test_a_broken_symlink_is_refused(specs_dir, target):
    link = specs_dir / ("loop.yaml" if target == "loop.yaml" else "broken.yaml")
    link.symlink_to(target)
    tree = read_spec_folder(specs_dir)
    assert sorted(tree.files) == ["server.yaml"]
    assert [str(error) for error in tree.errors] == [
        f"{link.name}:1:1: broken symlink: remove it or point it at a file inside the spec folder"]


def test_a_symlink_inside_the_folder_is_read(specs_dir):
    (specs_dir / "lists").mkdir()
    (specs_dir / "lists" / "team.yaml").write_bytes(TEAM)
    (specs_dir / "team-link.yaml").symlink_to(Path("lists", "team.yaml"))
    tree = read_spec_folder(specs_dir)
    assert tree.errors == []
    assert tree.files["team-link.yaml"] == TEAM == tree.files["lists/team.yaml"]


def test_a_fifo_inside_the_folder_is_refused(specs_dir):
    os.mkfifo(specs_dir / "pipe.yaml")
    tree = read_spec_folder(specs_dir)
    assert [str(error) for error in tree.errors] == ["pipe.yaml:1:1: not a regular file"]


# -- header injection --------------------------------------------------------------------------

@pytest.mark.parametrize("recipient, where", [
    ('{name: "Ops\\r\\nBcc: evil@example.net", email: ops@example.com}', "team.yaml:9:14: spec.recipients[0].name"),
    ('{name: "Ops\\nBcc: evil@example.net", email: ops@example.com}', "team.yaml:9:14: spec.recipients[0].name"),
    ('{name: "Ops\\rX", email: ops@example.com}', "team.yaml:9:14: spec.recipients[0].name"),
    ('{name: "Ops\\u0085X", email: ops@example.com}', "team.yaml:9:14: spec.recipients[0].name"),
    ('{name: "Ops", email: "ops@example.com\\r\\nBcc: evil@example.net"}', "team.yaml:9:28: spec.recipients[0].email"),
    ('"ops@example.com\\r\\nBcc: evil@example.net"', "team.yaml:9:7: spec.recipients[0]"),
    ('"ops@example.com\\nX-Injected: 1"', "team.yaml:9:7: spec.recipients[0]"),
    ('"ops@example.com\\rX-Injected: 1"', "team.yaml:9:7: spec.recipients[0]"),
    ('"ops\\r\\n@example.com"', "team.yaml:9:7: spec.recipients[0]"),
])
def test_line_breaks_in_a_recipient_are_refused_where_written(recipient, where):
    team = TEAM.replace(b"- dba-lead@example.com", f"- {recipient}".encode())
    assert team != TEAM
    lines = error_lines({"server.yaml": SERVER, "team.yaml": team})
    assert len(lines) == 1
    assert lines[0].startswith(f"{where}: ")


@pytest.mark.parametrize("field, value", [
    ("repeatInterval", "4h\n"), ("groupWait", "5m\n"), ("recipients", ["a@example.com\n"]),
    ("recipients", [{"name": "Ops\n", "email": "b@example.com"}]),
])
def test_a_trailing_newline_does_not_slip_past_a_pattern(field, value):
    import json

    doc = {"apiVersion": "notify-reconciler/v1", "kind": "RecipientList", "metadata": {"name": "l"},
           "spec": {"recipients": ["a@example.com"], field: value}}
    result = outcome({"server.yaml": SERVER, "l.yaml": json.dumps(doc).encode()})
    assert isinstance(result, SpecErrors) and f"spec.{field}" in str(result)


@pytest.mark.parametrize("depth", [30_000, 262_000])
def test_very_deep_nesting_is_an_error_not_a_crash(depth):
    for data in (b"[" * depth, b"- " * depth + b"x", b"{a: " * depth):
        result = outcome({"deep.yaml": data[:DEFAULT_LIMITS.max_file_bytes]})
        assert isinstance(result, SpecErrors) and "nesting is deeper" in str(result)


def test_a_lone_surrogate_is_a_located_error_not_a_render_crash():
    text = (b'apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: l}\n'
            b'spec: {recipients: [{name: "A\\ud800", email: x@example.com}]}\n')
    result = outcome({"server.yaml": SERVER, "team.yaml": text})
    assert isinstance(result, SpecErrors) and "lone surrogate" in str(result)
