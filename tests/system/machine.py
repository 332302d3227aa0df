"""A throwaway machine with systemd as PID 1: this machine's own Debian, booted by systemd-nspawn.

Its root is an overlay of `/` (changes go to a temporary upper folder), it has only a
loopback network (--private-network: nothing it does leaves it), and it sees this checkout
and a wheelhouse read-only through bind mounts, not through the overlay: a file edited
under an overlay's lower layer can be read at its old size. Commands run inside with
nsenter into its PID 1. `close()` always takes it all down: the container, the overlay
mount and the temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class CommandFailed(AssertionError):
    pass


class Machine:
    def __init__(self, binds: dict[str, str], masked: tuple[str, ...] = (),
                 files: dict[str, str] | None = None) -> None:
        """`binds`: host path -> path inside, read-only. `masked`: units not to start at boot.
        `files`: path inside -> text, in place before it boots."""
        self.binds = binds
        self.masked = masked
        self.files = files or {}
        self.root = Path(tempfile.mkdtemp(prefix="notify-reconciler-machine-"))
        self.upper, self.work, self.merged = (self.root / name for name in ("upper", "work", "merged"))
        self.log_path = self.root / "nspawn.log"
        self.nspawn: subprocess.Popen | None = None
        self.leader: int | None = None
        self._mounted = False

    # -- life cycle -------------------------------------------------------------------------

    def boot(self, timeout: float = 60) -> Machine:
        self.start()
        return self.wait_booted(timeout)

    def start(self) -> None:
        """Start booting it; `wait_booted` waits for the end."""
        for folder in (self.upper, self.work, self.merged):
            folder.mkdir()
        systemd_dir = self.upper / "etc/systemd/system"
        systemd_dir.mkdir(parents=True)
        for unit in self.masked:
            (systemd_dir / unit).symlink_to("/dev/null")
        for path, text in self.files.items():
            target = self.upper / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        mount = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                                f"lowerdir=/,upperdir={self.upper},workdir={self.work}", str(self.merged)],
                               capture_output=True, text=True, timeout=30)
        if mount.returncode != 0:
            raise CommandFailed(f"mounting an overlay of / failed: {mount.stderr.strip()}")
        self._mounted = True
        command = ["systemd-nspawn", "--quiet", "--directory", str(self.merged), "--boot", "--register=no",
                   "--keep-unit", "--private-network", "--console=read-only",
                   f"--machine=nr-test-{os.getpid()}"]
        command += [f"--bind-ro={host}:{inside}" for host, inside in self.binds.items()]
        with open(self.log_path, "wb") as log:
            self.nspawn = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)

    def wait_booted(self, timeout: float = 60) -> Machine:
        deadline = time.monotonic() + timeout
        while self.leader is None:
            self.leader = self._find_leader()
            self._check_alive(deadline)
        while True:
            result = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=timeout)
            if result.stdout.strip() in ("running", "degraded"):
                return self
            self._check_alive(deadline)

    def _find_leader(self) -> int | None:
        """The container's PID 1 as this machine sees it: systemd, a child of systemd-nspawn."""
        assert self.nspawn is not None
        try:
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children").read_text().split()
        except FileNotFoundError:
            return None
        for child in children:
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                    return int(child)
            except FileNotFoundError:
                pass
        return None

    def _check_alive(self, deadline: float) -> None:
        assert self.nspawn is not None
        if self.nspawn.poll() is not None:
            raise CommandFailed(f"systemd-nspawn exited with {self.nspawn.returncode}:\n{self.console()}")
        if time.monotonic() > deadline:
            raise CommandFailed(f"the machine did not boot in time:\n{self.console()}")
        time.sleep(0.1)

    def console(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        """Kill it (nothing in it is worth a clean power-off); unmount; remove every temporary file."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            # SIGKILL to the PID 1 of a namespace takes every process in it along; nspawn then exits.
            leader = self.leader or self._find_leader()
            try:
                if leader:
                    os.kill(leader, signal.SIGKILL)
                else:
                    self.nspawn.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.nspawn.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait(timeout=15)
        if self._mounted:
            result = subprocess.run(["umount", str(self.merged)], capture_output=True, timeout=30)
            if result.returncode != 0:
                subprocess.run(["umount", "--lazy", str(self.merged)], check=True, timeout=30)
            self._mounted = False
        # Only once nothing is mounted there: removing files through the overlay is no harm to
        # `/` (it writes whiteouts), but not worth the risk.
        shutil.rmtree(self.root, ignore_errors=True)

    # -- inside -----------------------------------------------------------------------------

    def run(self, *command: str, check: bool = True, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `command` inside, as root, with a clean environment."""
        assert self.leader is not None
        result = subprocess.run(["nsenter", "--target", str(self.leader), "--all", "env", "-i", f"PATH={PATH}",
                                 "LANG=C.UTF-8", "HOME=/root", *command],
                                input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise CommandFailed(f"{' '.join(command)} exited with {result.returncode}:\n"
                                f"{result.stdout}\n{result.stderr}")
        return result

    def sh(self, script: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run("sh", "-ec", script, check=check, timeout=timeout)

    def write(self, path: str, text: str) -> None:
        self.run("sh", "-c", f'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path, input=text)

    def read(self, path: str) -> str:
        return self.run("cat", path).stdout
