"""The commit a command that logs in with the real password may use: the branch's head if it
may be applied, else the last commit that was (verified again). `mail-test` and `who-gets
--config` never follow an unverified or invalid commit to another server."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..errors import CommitRejected

if TYPE_CHECKING:
    from ..io.git_source import Committed
    from ..specs.daemon_config import Config


class Verified(NamedTuple):
    committed: Committed
    passed_over: CommitRejected | None
    """Why the branch's head was not used (then `committed` is the last applied commit)."""


def last_verified(config: Config) -> Verified:
    from ..io.git_source import committed_specs
    from .reconcile import source_for
    from .state import load_state

    source = source_for(config)
    applied = load_state(config.state_dir).applied
    try:
        try:
            return Verified(committed_specs(source, config.source.allowed_signers, applied=applied,
                                            allow_rewind=config.source.allow_rewind, secrets=config.secrets), None)
        except CommitRejected as rejected:
            if applied is None or applied.sha == rejected.revision.sha:
                raise
            return Verified(committed_specs(source, config.source.allowed_signers, revision=applied,
                                            secrets=config.secrets), rejected)
    finally:
        source.close()
