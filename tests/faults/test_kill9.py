"""kill -9 of the daemon at random moments while commits stream in: the live file is always
a whole config amtool accepts and one of the renders, the state loads, and a restarted
daemon converges to the newest commit (checked every fifth kill)."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.specs.daemon_config import parse_config
from reconciler.specs.pipeline import parse_specs
from reconciler.io.deploy import render_options
from reconciler.core.render import render_alertmanager_config
from reconciler.service.state import load_alerting, load_state

from tests.support.daemon import DaemonProcess
from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.services import require_binary, wait_until


KILLS = 20


def renders_of(config_path: Path, files_by_commit: list[dict[str, str]]) -> set[bytes]:
    config = parse_config(str(config_path), config_path.read_bytes())
    options = render_options(config)
    return {render_alertmanager_config(parse_specs({n: t.encode() for n, t in files.items()}), options=options)
            .encode() for files in files_by_commit}


@pytest.mark.slow
def test_kill_9_at_random_moments_never_leaves_a_broken_config(tmp_path):
    kill_9_run(tmp_path, KILLS, seed=20261124)


def kill_9_run(tmp_path: Path, kills: int, seed: int) -> int:
    """`kills` rounds of start, commit, kill -9, check; every fifth round, and at the end, a
    restart must converge. Returns how many rounds found a live file to check."""
    amtool = require_binary("amtool")
    rng = random.Random(seed)
    checked = 0
    repo = GitRepo(tmp_path / "repo")
    files = {"server.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"])}
    repo.commit("start", **files)
    history = [dict(files)]
    output = tmp_path / "alertmanager.yml"
    state_dir = tmp_path / "state"
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, pollInterval: 1s}}\n"
                      f"target: {{output: {output}, alertmanagers: []}}\nstateDir: {state_dir}\n"
                      f"listen: 127.0.0.1:0\n")
    for kill in range(kills):
        daemon = DaemonProcess(config)
        if rng.random() < 0.5:  # half the kills land in start-up, half once the loop runs
            wait_until(lambda: "event=started" in daemon.text(), 15, "the daemon to start")
        time.sleep(rng.uniform(0.0, 0.35))
        for _ in range(rng.randint(1, 3)):
            files = {**files, "policy.yaml": document("NotificationPolicy", "p",
                                                      f"repeatInterval: {kill * 10 + rng.randint(1, 9)}m\n")}
            (tmp_path / "repo" / "bad.yaml").unlink(missing_ok=True)
            if rng.random() < 0.3:
                repo.commit(f"bad commit during kill {kill}", **files, **{"bad.yaml": "kind: [\n"})  # rejected
            else:
                history.append(dict(files))
                repo.commit(f"commit during kill {kill}", **files)
            time.sleep(rng.uniform(0, 0.05))
        daemon.stop(signal.SIGKILL)

        if output.exists():
            checked += 1
            assert output.read_bytes() in renders_of(config, history), f"kill {kill}: a file no render made"
            check = subprocess.run([amtool, "check-config", str(output)], capture_output=True, text=True)
            assert check.returncode == 0, f"kill {kill}: {check.stdout}"
        load_state(state_dir)     # loads: never torn
        load_alerting(state_dir)
        for letter in state_dir.glob("outbox/**/*.json"):  # own alerts waiting (no SMTP server here)
            assert isinstance(json.loads(letter.read_text()), dict), f"kill {kill}: {letter} is torn"
        if kill % 5 == 4 or kill == kills - 1:
            converge(tmp_path, repo, config, history, files)
    return checked


def converge(tmp_path: Path, repo: GitRepo, config: Path, history: list[dict[str, str]],
             files: dict[str, str]) -> None:
    """A restarted daemon applies the newest good commit, records it, and leaves no temporary file.
    `files`: the good part of the newest commit (a rejected one carries a new policy too)."""
    if (repo.path / "bad.yaml").exists():
        (repo.path / "bad.yaml").unlink()
        repo.commit("fix")
        history.append(dict(files))
    head = repo.head()
    output = tmp_path / "alertmanager.yml"
    daemon = DaemonProcess(config)
    try:
        # Evidence from this daemon, not what the killed one left: its own pass over the head.
        wait_until(lambda: re.search(rf"event=(applied|unchanged) revision={head[:7]} ", daemon.text()), 15,
                   f"the restarted daemon to pass over {head[:7]}")
        assert output.read_bytes() in renders_of(config, [history[-1]])
        assert load_state(tmp_path / "state").applied.sha == head
    finally:
        assert daemon.stop() == 0
    assert not list(tmp_path.glob(".alertmanager.yml.*.tmp"))
    assert not list((tmp_path / "state").glob(".*.tmp"))
