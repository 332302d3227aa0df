"""`notify-reconciler render` refuses what `apply` would refuse, and ends every failure in
one of our messages and SPEC.md's exit status, never a traceback: a base amtool refuses, a
full disk behind stdout or -o, a base that is not UTF-8."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.main import main

from tests.support.services import require_binary, require_root


pytestmark = pytest.mark.alertmanager

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config-repo"


@pytest.fixture(scope="module", autouse=True)
def amtool():
    return require_binary("amtool")


def run_cli(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=60, cwd=ROOT)


def test_a_base_amtool_refuses_is_not_rendered_exit_1(tmp_path, capsys):
    base = tmp_path / "base.yml"
    base.write_text("route:\n  receiver: missing\nreceivers: [{name: chat}]\n")
    out = tmp_path / "out.yml"
    assert main(["render", str(EXAMPLE), "--base", str(base), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (f"{base}: amtool check-config refuses the base itself, so no render into it "
                                       "can run: undefined receiver \"missing\" used in route\n")
    assert not out.exists()


def test_a_render_amtool_refuses_is_not_printed_exit_1(tmp_path, capsys):
    # Without a route the base is no whole config to check alone; the render is refused.
    base = tmp_path / "base.yml"
    base.write_text("receivers: [{name: hook, webhook_configs: [{url: 'not a url'}]}]\n")
    assert main(["render", str(EXAMPLE), "--base", str(base)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "amtool check-config refused the rendered config: unsupported scheme \"\" for URL\n"


def test_a_full_disk_behind_stdout_is_exit_2_with_a_message():
    with open("/dev/full", "w") as full:
        result = run_cli("render", str(EXAMPLE), stdout=full)
    assert (result.returncode, result.stderr) == (2, "cannot write to standard output: No space left on device\n")


def test_a_full_disk_behind_output_is_exit_2_and_leaves_the_old_file(tmp_path):
    require_root("to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        out = mount / "alertmanager.yml"
        out.write_text("old\n")
        (mount / "filler").write_bytes(b"x" * 60_000)
        subprocess.run(["dd", "if=/dev/zero", f"of={mount / 'rest'}", "bs=4k"], capture_output=True)
        result = run_cli("render", str(EXAMPLE), "-o", str(out))
        assert (result.returncode, result.stderr) == (2, f"{out}: cannot write: No space left on device\n")
        assert out.read_text() == "old\n"
        assert sorted(p.name for p in mount.iterdir()) == ["alertmanager.yml", "filler", "rest"]
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_no_room_for_the_amtool_check_is_exit_2_with_a_message(tmp_path, monkeypatch, capsys):
    import tempfile

    require_root("to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], check=True)
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={mount / 'filler'}", "bs=4k"], capture_output=True)
        monkeypatch.setattr(tempfile, "tempdir", str(mount))  # where the candidate for amtool goes
        assert main(["render", str(EXAMPLE)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == f"cannot run amtool check-config: No space left on device (the temporary folder {mount})\n"
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_base_that_is_not_utf8_is_a_located_error(tmp_path):
    base = tmp_path / "base.yml"
    base.write_bytes("route: {receiver: chat}\nreceivers: [{name: chat}]\n# café\n".encode("latin-1"))
    result = run_cli("render", str(EXAMPLE), "--base", str(base))
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", f"{base}:3:6: not UTF-8 text (byte 0xe9): save the base as UTF-8, as Alertmanager reads it\n")


@pytest.mark.parametrize("base, message", [
    ("route:\n  group_by: [alertname]\nreceivers: [{name: chat}]\n",
     "1:1: route: the root route has no receiver, which Alertmanager requires"),
    ("route:\n  receiver: chat\n  routes: [{receiver: notify-reconciler/mine}]\nreceivers: [{name: chat}, "
     "{name: notify-reconciler/mine, webhook_configs: [{url: 'http://127.0.0.1/'}]}]\n",
     "4:28: receivers[1].name: 'notify-reconciler/mine' is a name notify-reconciler keeps"),
])
def test_a_base_render_cannot_merge_into_is_exit_1_with_its_line(tmp_path, base, message):
    path = tmp_path / "base.yml"
    path.write_text(base)
    result = run_cli("render", str(EXAMPLE), "--base", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"{path}:{message}") and "Traceback" not in result.stderr
