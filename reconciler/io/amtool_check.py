"""What `render` checks before it prints or writes anything: the checks `apply` runs
(reconciler.io.deploy.check_config: our own, and `amtool check-config` when installed), with
the blame put where it belongs when the base itself is what Alertmanager refuses."""

from __future__ import annotations

from ..am.reading import read_config
from .deploy import check_config
from ..errors import AlertmanagerConfigError, BaseConfigError, DeployError

_REFUSED = "refused the rendered config: "


def check_render(text: str, base_text: str | None, base_name: str,
                 templates: tuple[tuple[str, bytes], ...] = ()) -> None:
    """Raise BaseConfigError if Alertmanager would refuse the base on its own, DeployError if
    it refuses the render; return if it accepts the render (with the template files it carries)."""
    try:
        check_config(text, templates)
    except DeployError as refused:
        if base_text is not None and _has_root_route(base_text):
            try:
                check_config(base_text)
            except DeployError as base_refused:
                reason = str(base_refused).split(_REFUSED, 1)[-1]
                raise BaseConfigError(f"{base_name}: amtool check-config refuses the base itself, so no render "
                                      f"into it can run: {reason}") from None
        raise refused


def _has_root_route(base_text: str) -> bool:
    """Whether the base can be checked on its own: without a root route it is not a whole
    config yet (the render gives it one)."""
    try:
        config = read_config(base_text, "base").data
    except AlertmanagerConfigError:
        return False
    return isinstance(config, dict) and isinstance(config.get("route"), dict)
