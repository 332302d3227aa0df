"""Alertmanager's own template engine, through `amtool template render`.

Whether a subject or a body template parses and runs is what Alertmanager 0.25's Go
templates say, not a Python imitation: `check_templates` loads the carried template files
exactly as Alertmanager does (its default templates first, then every file, one namespace)
and renders each subject and body with amtool's example data; a refusal becomes a located
`SpecError` (the template file and line, or the spec field of a subject). `render_template`
renders one template string with given data, for `preview`.

The data a template sees is Alertmanager's `template.Data` (receiver, status, alerts with
their labels and annotations, group and common labels, the external URL) and nothing else:
no config, no SMTP settings, no password. `sample_data` builds exactly those keys.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from .errors import EnvironmentProblem, Location, SpecError
from .model import MailFormat, Specs
from .templates import DEFAULT_HTML, DEFAULT_SUBJECT, TemplateFile

if TYPE_CHECKING:
    import tempfile

AMTOOL_TIMEOUT = 30.0
_ERROR = re.compile(r"template: (?P<name>[^:\n]*):(?P<line>[0-9]+)(?::(?P<column>[0-9]+))?: (?P<message>.*)")


class TemplateRefused(Exception):
    """amtool refused a template: its one-line reason, as Go's template package gave it."""


DEFAULT_TEMPLATE_DIRS = ("/usr/share/prometheus/alertmanager",)
"""Where a packaged Alertmanager keeps its default.tmpl and email.tmpl outside the binary.
Debian's server reads them from there, and Debian's amtool 0.25 does not load them at all
(`{{ template "email.default.subject" . }}` is "not defined" to it)."""
_defaults_for: dict[str, tuple[str, ...]] = {}


def default_template_globs(amtool: str) -> tuple[str, ...]:
    """The --template.glob options that give amtool Alertmanager's default templates, as the
    server has them: none when amtool has them built in, else the packaged files."""
    if amtool in _defaults_for:
        return _defaults_for[amtool]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="notify-reconciler-templates-") as empty:
        try:
            Engine(amtool, Path(empty)).render('{{ template "email.default.subject" . }}')
            globs: tuple[str, ...] = ()
        except TemplateRefused:
            found = [folder for folder in DEFAULT_TEMPLATE_DIRS
                     if all(Path(folder, name).is_file() for name in ("default.tmpl", "email.tmpl"))]
            if not found:
                raise EnvironmentProblem(f"{amtool} does not know Alertmanager's default templates and they are "
                                         f"not in {', '.join(DEFAULT_TEMPLATE_DIRS)}: install Debian's "
                                         "prometheus-alertmanager") from None
            globs = (f"{found[0]}/default.tmpl", f"{found[0]}/email.tmpl")
    _defaults_for[amtool] = globs
    return globs


@dataclass(frozen=True)
class Engine:
    """amtool with a folder holding the carried template files (a context manager)."""

    amtool: str
    folder: Path
    defaults: tuple[str, ...] = ()
    """--template.glob values loaded first: Alertmanager's default templates, when amtool lacks them."""

    def render(self, text: str, *, html: bool = False, data: Mapping | None = None) -> str:
        """`text` rendered as Alertmanager renders a header (text) or the html field, with
        `data` (template.Data's JSON) or amtool's example data. Raises TemplateRefused."""
        command = [self.amtool, "template", "render", *(f"--template.glob={glob}" for glob in self.defaults),
                   f"--template.glob={self.folder}/*.tmpl",
                   f"--template.text={text}", f"--template.type={'html' if html else 'text'}"]
        if data is not None:
            data_file = self.folder / "data.json"
            try:
                data_file.write_text(json.dumps(data), encoding="utf-8")
            except OSError as exc:
                raise EnvironmentProblem(f"cannot write the template data for amtool: {exc.strerror or exc}") from exc
            command.append(f"--template.data={data_file}")
        import subprocess  # here: a spec folder without templates never starts amtool

        try:
            result = subprocess.run(command, capture_output=True, timeout=AMTOOL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise EnvironmentProblem(f"amtool template render did not answer within {AMTOOL_TIMEOUT:.0f}s") from exc
        except OSError as exc:
            raise EnvironmentProblem(f"cannot run amtool template render: {exc.strerror or exc}") from exc
        if result.returncode != 0:
            said = result.stderr.decode("utf-8", "replace").strip()
            lines = [line.removeprefix("amtool: error: ") for line in said.splitlines() if line.strip()]
            raise TemplateRefused(lines[0] if lines else f"amtool exited with {result.returncode}")
        return result.stdout.decode("utf-8", "replace")


class engine:
    """`with engine(files) as e:` amtool, and a temporary folder holding `files` under their
    carried names. Raises EnvironmentProblem when amtool is not installed."""

    def __init__(self, files: Iterable[TemplateFile]) -> None:
        self.files = list(files)
        self._folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Engine:
        amtool = shutil.which("amtool")
        if amtool is None:
            raise EnvironmentProblem("amtool is not installed, and Alertmanager's template engine is needed here: "
                                     "install Debian's prometheus-alertmanager (./scripts/setup does)")
        import tempfile

        try:
            self._folder = tempfile.TemporaryDirectory(prefix="notify-reconciler-templates-")
            folder = Path(self._folder.name)
            for item in self.files:
                (folder / item.carried).write_bytes(item.data)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write template files to a temporary folder: "
                                     f"{exc.strerror or exc}") from exc
        try:
            return Engine(amtool, folder, default_template_globs(amtool))
        except OSError as exc:  # the probe's temporary folder
            raise EnvironmentProblem(f"cannot run amtool template render: {exc.strerror or exc}") from exc

    def __exit__(self, *exc_info) -> None:
        if self._folder is not None:
            self._folder.cleanup()


_last_checked: list = [None, None]
"""(what was checked, its errors): the daemon checks the same templates on every pass."""


def check_templates(specs: Specs) -> list[SpecError]:
    """Every subject and body template of `specs` as Alertmanager loads and renders it, with
    amtool's example data: the located errors (empty when all render, or when there is
    nothing to check). Without amtool, nothing is checked here (apply's amtool check-config
    needs it too), but what the structure scan of templates.py refused."""
    mails = _mail_formats(specs)
    if not specs.template_files and all(mail.subject is None for mail in mails):
        return []
    if shutil.which("amtool") is None:
        return [item.scan_error for item in specs.template_files if item.scan_error is not None]
    key = (tuple((item.path, item.data) for item in specs.template_files),
           tuple((mail.subject, mail.html, mail.text, mail.subject_at, mail.html_at, mail.text_at) for mail in mails))
    if _last_checked[0] == key:
        return list(_last_checked[1])
    errors = _check(specs, mails)
    # A file whose structure the scan could not read has an unknown body: refused even when
    # Alertmanager parses it (a mail with the wrong body would be worse than a clear error).
    errors = errors or [item.scan_error for item in specs.template_files if item.scan_error is not None]
    _last_checked[:] = [key, errors]
    return list(errors)


def _check(specs: Specs, mails: list[MailFormat]) -> list[SpecError]:
    with engine(specs.template_files) as amtool:
        calls = sorted({(mail.subject, False) for mail in mails if mail.subject is not None}
                       | {(_body_call(specs, path), kind == "html") for mail in mails
                          for kind, path in (("html", mail.html), ("text", mail.text)) if path is not None})
        try:  # the usual case: everything renders, in two runs of amtool
            for html in (False, True):
                texts = [text for text, is_html in calls if is_html == html]
                # One argument of a command line holds at most 128 KiB (Linux): a few runs at most.
                while texts:
                    batch = texts[:1]
                    while len(batch) < len(texts) and sum(map(len, batch)) + len(texts[len(batch)]) < 60_000:
                        batch.append(texts[len(batch)])
                    amtool.render("".join(batch), html=html)
                    texts = texts[len(batch):]
            return []
        except TemplateRefused:
            pass
        return _locate_refusals(specs, mails, amtool)


def _locate_refusals(specs: Specs, mails: list[MailFormat], amtool: Engine) -> list[SpecError]:
    errors: dict[tuple, SpecError] = {}
    by_name = {item.carried: item for item in specs.template_files}
    try:
        amtool.render("")  # the files alone: does each parse?
    except TemplateRefused as refused:
        error = _file_error(str(refused), by_name)
        errors[(error.file, error.line)] = error
        return list(errors.values())  # Go stops at the first file that does not parse
    for mail in mails:
        if mail.subject is not None and mail.subject_at is not None:
            try:
                amtool.render(mail.subject)
            except TemplateRefused as refused:
                error = _file_error(str(refused), by_name, default=mail.subject_at, path="spec.subject",
                                    what="the subject does not render with Alertmanager's example data")
                errors[(error.file, error.line, error.path)] = error
        for kind, path, where in (("html", mail.html, mail.html_at), ("text", mail.text, mail.text_at)):
            if path is None or where is None:
                continue
            try:
                amtool.render(_body_call(specs, path), html=kind == "html")
            except TemplateRefused as refused:
                error = _file_error(str(refused), by_name, default=where, path=f"spec.templates.{kind}",
                                    what=f"the {kind} body does not render with Alertmanager's example data")
                errors[(error.file, error.line, error.path)] = error
    return list(errors.values())


def _file_error(reason: str, by_name: Mapping[str, TemplateFile], *, default: Location | None = None,
                path: str = "", what: str = "") -> SpecError:
    """Go's "template: NAME:LINE[:COL]: message" as a SpecError in the template file when NAME
    is a carried file, else at `default` (the spec field)."""
    match = _ERROR.search(reason)
    if match and match["name"] in by_name:
        item = by_name[match["name"]]
        message = match["message"].replace(item.carried, item.path)
        return SpecError(Location(item.path, int(match["line"]), int(match["column"] or 1)), "",
                         f"{message} (Alertmanager's template engine)")
    for name, item in by_name.items():
        reason = reason.replace(name, item.path)
    where = default or Location("?")
    return SpecError(where, path, f"{what}: {reason}" if what else reason)


def _mail_formats(specs: Specs) -> list[MailFormat]:
    formats = [specs.mail_for(item) for item in specs.lists] if specs.email_enabled else []
    if specs.policy is not None:
        formats.append(specs.policy.mail)  # checked even when no list uses it yet
    return formats


def _body_call(specs: Specs, path: str) -> str:
    return '{{ template "%s" . }}' % specs.templates[path].body


# -- the data a template sees --------------------------------------------------------------------

def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's alert fingerprint (Prometheus' model.LabelSet.Fingerprint): FNV-1a 64
    over the sorted label names and values, each followed by the 0xff separator."""
    value = 14695981039346656037
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8") + b"\xff":
                value = ((value ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def sample_data(receiver: str, labels: Mapping[str, str], annotations: Mapping[str, str],
                group_by: tuple[str, ...] | None, starts_at: str, external_url: str) -> dict:
    """Alertmanager's template.Data for one firing alert, as its notifier builds it: the
    group labels are the alert's labels named by the route's group_by (None: all of them,
    Alertmanager's '...'). Only alert data: there is nothing else a template could reach."""
    group_labels = dict(labels) if group_by is None else {name: labels[name] for name in group_by if name in labels}
    return {
        "receiver": receiver,
        "status": "firing",
        "alerts": [{"status": "firing", "labels": dict(labels), "annotations": dict(annotations),
                    "startsAt": starts_at, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
                    "fingerprint": fingerprint(labels)}],
        "groupLabels": group_labels,
        "commonLabels": dict(labels),
        "commonAnnotations": dict(annotations),
        "externalURL": external_url,
    }


def default_mail_format() -> tuple[str, str]:
    """Alertmanager's own subject and HTML body calls (config.DefaultEmailConfig)."""
    return DEFAULT_SUBJECT, DEFAULT_HTML
