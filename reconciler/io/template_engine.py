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

A template comes from a commit, so its rendering is held to `TEMPLATE_BUDGET` (amtool.py:
time, output, memory): one that loops, recurses or grows without end would make
Alertmanager do the same for every mail. Such a template is a located `SpecError` in its
file (the subject's field, for a subject), so the commit is rejected, never retried.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

from .amtool import Budget, CannotLimit, OverBudget, run_amtool
from ..errors import EnvironmentProblem, Location, SpecError
from ..specs.headers import too_long
from ..specs.model import MailFormat, Specs
from ..specs.templates import DEFAULT_HTML, DEFAULT_SUBJECT, ScanError, TemplateFile, scan

if TYPE_CHECKING:
    import tempfile

TEMPLATE_BUDGET = Budget(seconds=5.0, output_bytes=4 << 20, memory_bytes=96 << 20)
"""One amtool run of templates (a batch of them, or one alone). With Alertmanager's example
data a template renders at once to a short text, in memory that is mostly reserved and
unused, and a mail of twice the output budget still fits in the memory budget; a mail of 4 MiB
is already more than most servers take. At this limit amtool stops not far past it (amtool.py;
figures in bench/README.md), which leaves the daemon room under the unit's MemoryMax=256M."""
LOCATE_SECONDS = 30.0
"""When a batch fails, each template is rendered alone to say which one: at most this long
in all, and whatever was not rendered by then is refused too (fail closed)."""
_ERROR = re.compile(r"(?:^|[ :])(?:html/template:|template: )(?P<name>[^:\n]*)(?::(?P<line>[0-9]+)(?::(?P<column>[0-9]+))?)?"
                    r": (?P<message>.*)")
"""Where Go's text/template says an error is (`template: NAME:LINE[:COL]: ...`, NAME the file a
parse tree came from) and html/template (`html/template:NAME:LINE:COL: ...`, or with NAME a
template's name and a line, or a name alone)."""


class TemplateRefused(Exception):
    """amtool refused a template: its one-line reason, as Go's template package gave it."""


class TemplateOverBudget(TemplateRefused):
    """Rendering overran TEMPLATE_BUDGET (time, output or memory) and was stopped."""


class _NotRendered(TemplateOverBudget):
    """Not rendered: the time for locating the refusals ran out before (LOCATE_SECONDS)."""


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

    def render(self, text: str, *, html: bool = False, data: Mapping | None = None,
               keep_output: bool = True) -> str:
        """`text` rendered as Alertmanager renders a header (text) or the html field, with
        `data` (template.Data's JSON) or amtool's example data, within TEMPLATE_BUDGET.
        Raises TemplateRefused (TemplateOverBudget for an overrun). Without `keep_output`
        only the verdict matters: the output is counted, not kept, and "" returned."""
        arguments = ["template", "render", *(f"--template.glob={glob}" for glob in self.defaults),
                     f"--template.glob={self.folder}/*.tmpl",
                     f"--template.text={text}", f"--template.type={'html' if html else 'text'}"]
        if data is not None:
            data_file = self.folder / "data.json"
            try:
                data_file.write_text(json.dumps(data), encoding="utf-8")
            except OSError as exc:
                raise EnvironmentProblem(f"cannot write the template data for amtool: {exc.strerror or exc}") from exc
            arguments.append(f"--template.data={data_file}")
        try:
            result = run_amtool(self.amtool, arguments, TEMPLATE_BUDGET, keep_output=keep_output)
        except OverBudget as exc:
            raise TemplateOverBudget(f"rendering {exc}") from None
        except CannotLimit as exc:
            raise EnvironmentProblem(f"cannot run amtool template render within a memory limit: {exc}") from exc
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
        known: dict[tuple[str, bool], TemplateRefused | None] = {}
        # One deadline for the whole check: a text that is not self-contained takes a run of
        # its own, and thousands of them at up to 5 s each must not hold a pass for hours.
        deadline = time.monotonic() + LOCATE_SECONDS
        # The usual case: everything renders, in two runs of amtool.
        for html in (False, True):
            for batch in _batches([text for text, is_html in calls if is_html == html]):
                if time.monotonic() > deadline:  # what is left is refused unrendered
                    return _locate_refusals(specs, mails, amtool, known, deadline)
                try:
                    amtool.render("".join(batch), html=html, keep_output=False)
                    known.update(((text, html), None) for text in batch)
                except TemplateRefused as refused:  # or over budget: each alone says which
                    if len(batch) == 1:  # its verdict already: not another run (5 s, over budget) for it
                        known[batch[0], html] = refused
                    return _locate_refusals(specs, mails, amtool, known, deadline)
        return _subject_lines(mails, amtool, deadline)


def _subject_lines(mails: list[MailFormat], amtool: Engine, deadline: float) -> list[SpecError]:
    """Each subject that is a template (one without actions is measured by the model), rendered
    with Alertmanager's example data as Alertmanager writes its Subject: line: one over 998
    octets is refused at its spec.subject."""
    where: dict[str, list[Location]] = {}
    for mail in mails:
        if mail.subject is not None and mail.subject_at is not None and "{{" in mail.subject:
            where.setdefault(mail.subject, []).append(mail.subject_at)
    errors: dict[tuple, SpecError] = {}
    for text, shown in _rendered_each(list(where), amtool, deadline).items():
        problem = too_long("Subject", shown, example=True) if isinstance(shown, str) else \
            f"the subject does not render with Alertmanager's example data: {shown}"
        for at in where[text] if problem else ():
            errors[(at.file, at.line)] = SpecError(at, "spec.subject", problem)
    return list(errors.values())


def _rendered_each(texts: list[str], amtool: Engine, deadline: float) -> dict[str, str | TemplateRefused]:
    """Each text's output, rendered in as few runs of amtool as `_batches` allows: joined by a
    mark no template can know (chosen at random here), and split at it again; a batch whose
    output does not split into its texts is rendered text by text. Past `deadline` (the
    check's), a text is left unrendered: refused."""
    import secrets

    mark = f"<notify-reconciler-{secrets.token_hex(16)}>"
    outputs: dict[str, str | TemplateRefused] = {}
    for batch in _batches(texts):
        if time.monotonic() > deadline:
            late = _NotRendered(f"not rendered, because rendering this commit's subjects and templates took more "
                                f"than {LOCATE_SECONDS:g} s in all")
            outputs.update((text, late) for text in batch)
            continue
        try:
            parts = amtool.render(mark.join(batch)).split(mark)
        except TemplateRefused as refused:
            parts = [refused] if len(batch) == 1 else []
        if len(parts) != len(batch):
            parts = []
            for text in batch:
                try:
                    parts.append(amtool.render(text))
                except TemplateRefused as refused:
                    parts.append(refused)
        outputs.update(zip(batch, parts))
    return outputs


def _batches(texts: list[str]) -> Iterator[list[str]]:
    """The texts in runs of amtool: together, up to 60,000 characters (one argument of a
    command line holds at most 128 KiB on Linux); alone, a text that is not self-contained."""
    batch: list[str] = []
    size = 0
    for text in texts:
        if not _self_contained(text):
            yield [text]
            continue
        if batch and size + len(text) >= 60_000:
            yield batch
            batch, size = [], 0
        batch.append(text)
        size += len(text)
    if batch:
        yield batch


_VARIABLE = re.compile(r"\$[A-Za-z0-9_]")


def _self_contained(text: str) -> bool:
    """Whether `text` parses joined to others as it does alone, as Alertmanager parses each
    subject: its blocks close within it (Go's structure, templates.scan), and it defines no
    template and uses no variable that another text could supply. Joined, '{{ if true }}A' and
    '{{- end }}' parse; alone, neither does. (A body call is always self-contained.)"""
    try:
        defines, _ = scan(text)
    except ScanError:
        return False
    return not defines and not _VARIABLE.search(text)


def _locate_refusals(specs: Specs, mails: list[MailFormat], amtool: Engine,
                     known: Mapping[tuple[str, bool], TemplateRefused | None], deadline: float) -> list[SpecError]:
    errors: dict[tuple, SpecError] = {}
    by_name = {item.carried: item for item in specs.template_files}
    try:
        amtool.render("", keep_output=False)  # the files alone: does each parse?
    except TemplateRefused as refused:
        error = _file_error(str(refused), by_name)
        errors[(error.file, error.line)] = error
        return list(errors.values())  # Go stops at the first file that does not parse
    verdicts = dict(known)

    def verdict(text: str, html: bool) -> TemplateRefused | None:
        """Each distinct call once (a thousand lists may share one template), until the
        time for locating runs out; after that, refused unrendered."""
        if (text, html) not in verdicts:
            if time.monotonic() > deadline:
                verdicts[text, html] = _NotRendered(
                    f"not rendered, because rendering this commit's subjects and templates took more than "
                    f"{LOCATE_SECONDS:g} s in all; see the other errors")
            else:
                try:
                    amtool.render(text, html=html, keep_output=False)
                    verdicts[text, html] = None
                except TemplateRefused as refused:
                    verdicts[text, html] = refused
        return verdicts[text, html]

    for mail in mails:
        if mail.subject is not None and mail.subject_at is not None:
            refused = verdict(mail.subject, False)
            if isinstance(refused, TemplateOverBudget):
                error = SpecError(mail.subject_at, "spec.subject", _too_costly(refused))
                errors[(error.file, error.line, error.path)] = error
            elif refused is not None:
                error = _file_error(str(refused), by_name, default=mail.subject_at, path="spec.subject",
                                    what="the subject does not render with Alertmanager's example data")
                errors[(error.file, error.line, error.path)] = error
        for kind, path, where in (("html", mail.html, mail.html_at), ("text", mail.text, mail.text_at)):
            if path is None or where is None:
                continue
            refused = verdict(_body_call(specs, path), kind == "html")
            if isinstance(refused, TemplateOverBudget):
                error = _over_budget_error(specs.templates[path], kind, refused)
                errors[(error.file, error.line, error.path)] = error
            elif refused is not None:
                # Where Go does not say which file, the body's own: its define, or its first line.
                item = specs.templates[path]
                error = _file_error(str(refused), by_name, default=Location(item.path, _body_line(item), 1),
                                    what=f"as the {kind} body, it does not render with Alertmanager's example data")
                errors[(error.file, error.line, error.path)] = error
    return list(errors.values())


def _body_line(item: TemplateFile) -> int:
    return next((line for name, line in item.defines if name == item.body), 1)


def _over_budget_error(item: TemplateFile, kind: str, refused: TemplateOverBudget) -> SpecError:
    """A body that overran the budget, in its template file: at its define, when the body is one."""
    return SpecError(Location(item.path, _body_line(item), 1), "", f"as the {kind} body, {_too_costly(refused)}")


def _too_costly(refused: TemplateOverBudget) -> str:
    if isinstance(refused, _NotRendered):
        return f"with Alertmanager's example data: {refused}"
    return (f"with Alertmanager's example data: {refused}: Alertmanager would do as much for every mail (a loop or "
            "a recursion that grows without end?); make the template do less")


def _file_error(reason: str, by_name: Mapping[str, TemplateFile], *, default: Location | None = None,
                path: str = "", what: str = "") -> SpecError:
    """Go's error as a SpecError in the template file, line and column it names (a file we carry,
    or a template one of them defines), else at `default`: the spec field of a subject, the
    template file of a body. Go counts a column in bytes from 0; it is shown in characters from 1."""
    match = _ERROR.search(reason)
    item = _named(match["name"], by_name) if match else None
    if match and item is not None:
        line = int(match["line"]) if match["line"] else next(
            (line for name, line in item.defines if name == match["name"]), 1)
        column = _character_column(item.data, line, int(match["column"])) if match["column"] else 1
        return SpecError(Location(item.path, line, column), "",
                         f"{_shown(match['message'], by_name)} (Alertmanager's template engine)")
    where = default or Location("?")
    reason = _shown(reason, by_name)
    return SpecError(where, path, f"{what}: {reason}" if what else reason)


def _named(name: str, by_name: Mapping[str, TemplateFile]) -> TemplateFile | None:
    """The file a name in Go's error stands for: a file we carry, or the one defining that template."""
    if name in by_name:
        return by_name[name]
    return next((item for item in by_name.values() if any(define == name for define, _ in item.defines)), None)


def _shown(text: str, by_name: Mapping[str, TemplateFile]) -> str:
    """`text` with the names of the files we carry replaced by their paths in the spec folder."""
    for name, item in by_name.items():
        text = text.replace(name, item.path)
    return text


def _character_column(data: bytes, line: int, offset: int) -> int:
    """Go's column (text/template/parse's ErrorContext: the bytes before the place on its line)
    as the 1-based character column an editor shows."""
    lines = data.split(b"\n")
    if not 1 <= line <= len(lines):
        return offset + 1
    return len(lines[line - 1][:offset].decode("utf-8", "replace")) + 1


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
