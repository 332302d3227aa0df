"""The reconciler's exceptions, one tree a caller can catch at the right level.

    ReconcilerError             anything the reconciler reports to a person
     +-- SpecError              one problem in what the user committed, located
     +-- SpecErrors             every SpecError of one run, sorted by file and line
     +-- BaseConfigError        the base alertmanager.yml cannot be read or merged
     |    +-- AlertmanagerConfigError   a located problem in an Alertmanager config's text
     +-- ConfigError            the daemon's own configuration file is invalid
     +-- EnvironmentProblem     something on this host is missing (a file, a variable)
     +-- SourceError            the git repository or branch cannot be read or fetched
     +-- CommitRejected         a commit that may not be applied: invalid specs, or unsigned
     +-- DeployError            a target refused the new config (amtool, write, reload)
     |    +-- TransientDeployError   worth retrying: refused connection, timeout, 5xx
     +-- MailError              an SMTP server did not take a message (or a probe failed)
          +-- TemporaryMailError     worth retrying: refused connection, timeout, 4xx
          +-- PermanentMailError     not worth retrying: 5xx, refused certificate or login

Every edge maps the exceptions of what it drives (OSError, git, urllib, smtplib, ssl,
subprocess, YAML) to one of these where it catches them (``raise ... from exc``);
tests/integration/test_exceptions.py drives each edge with its failures and fails if anything
else escapes.

Each message says what went wrong, where, and what to change. The CLI prints them and
exits with the status docs/contract.md gives; a traceback reaching a user is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .values import Revision


class ReconcilerError(Exception):
    """Base of every error the reconciler reports to a person."""


@dataclass(frozen=True, eq=True)
class Location:
    """Where a problem is: a file relative to the spec folder, 1-based line and column."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class SpecError(ReconcilerError):
    """One located problem: ``file:line:col: path: message``."""

    def __init__(self, location: Location, path: str, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.path = path
        self.message = message

    def __reduce__(self) -> tuple:
        # The parse cache (cache.py) pickles errors: rebuild from the three parts, not from
        # Exception's args (the message alone).
        return (type(self), (self.location, self.path, self.message))

    @property
    def file(self) -> str:
        return self.location.file

    @property
    def line(self) -> int:
        return self.location.line

    @property
    def column(self) -> int:
        return self.location.column

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.column, self.path, self.message)

    def __str__(self) -> str:
        where = str(self.location)
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"SpecError({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpecError) and self.sort_key() == other.sort_key()

    def __hash__(self) -> int:
        return hash(self.sort_key())


class SpecErrors(ReconcilerError):
    """All problems found in one spec tree, reported together."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors: tuple[SpecError, ...] = tuple(sorted(set(errors), key=SpecError.sort_key))
        super().__init__("\n".join(str(e) for e in self.errors))


class BaseConfigError(ReconcilerError):
    """The base Alertmanager configuration cannot be used."""


class AlertmanagerConfigError(BaseConfigError):
    """A config Alertmanager would not read as we need it (a base, a live config, a config to
    import): ``file:line:col: path: message``, as a SpecError says it."""

    def __init__(self, location: Location, path: str, message: str) -> None:
        self.location, self.path, self.message = location, path, message
        super().__init__(str(SpecError(location, path, message)))

    def __reduce__(self) -> tuple:
        return (type(self), (self.location, self.path, self.message))

    def as_spec_error(self) -> SpecError:
        return SpecError(self.location, self.path, self.message)


class ConfigError(ReconcilerError):
    """The daemon's own configuration is invalid."""


class EnvironmentProblem(ReconcilerError):
    """Something the render needs is missing on this host."""


class SourceError(ReconcilerError):
    """The config repo cannot be read: missing, unreachable, corrupt, or no such branch."""


class DeployError(ReconcilerError):
    """A target refused the new configuration; the last good one stays live."""


class TransientDeployError(DeployError):
    """A failure that may pass by itself (connection refused, timeout, HTTP 5xx)."""


class CommitRejected(ReconcilerError):
    """The branch's commit may not be applied: its specs are invalid, or it is not signed by
    an allowed key. Terminal until the branch changes."""

    def __init__(self, revision: Revision, summary: str, problems: tuple[str, ...],
                 spec_errors: SpecErrors | None = None) -> None:
        super().__init__(f"{revision.describe()} rejected: {summary}")
        self.revision = revision
        self.summary = summary
        self.problems = problems
        """Every problem, one line each (located for spec errors)."""
        self.spec_errors = spec_errors


class MailError(ReconcilerError):
    """The message was not accepted (or a probe found the server unusable)."""

    def __init__(self, message: str, transcript: list[str] | None = None) -> None:
        super().__init__(message)
        self.transcript = transcript or []


class TemporaryMailError(MailError):
    """Worth trying again later: refused connection, timeout, a 4xx reply."""


class PermanentMailError(MailError):
    """Trying again will not help: a 5xx reply, a refused certificate or login."""
