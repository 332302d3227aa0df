"""The render as a Kubernetes Secret (`render --format secret`): what changes when Alertmanager
runs in a pod and reads its config from the Secret `alertmanager-main`.

- The templates live next to the config in the Secret, so the config names them where the
  pod mounts the Secret's keys (SECRET_TEMPLATE_DIR).
- A password from the daemon's environment (`passwordEnv`) cannot reach the pod: refused.
- With the live Secret as the base, the render goes back into it (its other keys and its
  metadata kept); without, a new Secret is made, and the notes say what that loses and which
  password file the pod must have.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..specs.templates import SECRET_TEMPLATE_DIR
from .render import RenderOptions, password_file_for, render_into_secret, render_kubernetes_secret

if TYPE_CHECKING:
    from ..specs.model import Specs

DEFAULT_NAME, DEFAULT_NAMESPACE = "alertmanager-main", "kubesphere-monitoring-system"
OPTIONS = RenderOptions(templates_dir=SECRET_TEMPLATE_DIR)
"""The render's options for a Secret: templates where the pod mounts the Secret's keys."""


def password_env_refusal(specs: Specs) -> str | None:
    """Why these specs cannot be a Secret (the message, without its place), or None."""
    server = specs.server
    if server is not None and server.username and server.password_env:
        return ("spec.passwordEnv: a variable of the daemon's host cannot reach the Alertmanager pod a Secret runs "
                "in: use passwordFile with the path where the pod mounts the password (prometheus-operator: "
                "spec.secrets mounts /etc/alertmanager/secrets/<secret>/<key>)")
    return None


class SecretText(NamedTuple):
    text: str
    notes: tuple[str, ...]
    """Warnings and notes for the person (stderr), each one line."""


def as_secret(specs: Specs, config_text: str, templates, *, base_secret: str | None, has_base: bool,
              name: str | None, namespace: str | None) -> SecretText:
    """`config_text` (rendered with OPTIONS) in the live Secret `base_secret`, or in a new one."""
    if base_secret is not None:
        return SecretText(render_into_secret(config_text, base_secret, name=name, namespace=namespace,
                                             templates=templates), ())
    notes = []
    if not has_base:
        notes.append("warning: no --base: this Secret replaces Alertmanager's whole config, and every receiver, "
                     "route and inhibit rule not in the specs is lost; give the current one with --base (kubectl "
                     f"get secret {DEFAULT_NAME} -n {DEFAULT_NAMESPACE} -o yaml > base.yaml)")
    text = render_kubernetes_secret(config_text, name=name or DEFAULT_NAME, namespace=namespace or DEFAULT_NAMESPACE,
                                    templates=templates)
    password_file = password_file_for(specs.server, OPTIONS) if specs.server and specs.server.username else None
    if password_file:
        # The password stays out of the Secret; the pod must have the file the config names.
        notes.append(f"note: the config reads the SMTP password from {password_file}: mount it there in the "
                     "Alertmanager pod (prometheus-operator: spec.secrets mounts /etc/alertmanager/secrets/<name>/)")
    return SecretText(text, tuple(notes))
