"""Subject and body templates: how a list's template files become what Alertmanager reads.

Pure. Alertmanager 0.25 loads every file of its `templates:` into one namespace (Go's
text/template and html/template, after its own default.tmpl and email.tmpl), each file's
text outside ``{{ define }}`` blocks under the file's base name. So:

- each template file a list names is carried as ``notify-reconciler-<stem>-<digest>.tmpl``
  (`carried_name`): unique, and new content gets a new name, so writing the files of a new
  render never changes a file the live config reads (a rollback finds them as they were);
- the body is the file's text outside its define blocks (`{{ template "<carried name>" . }}`);
  a file holding nothing but exactly one define block, the usual shape of an Alertmanager
  template file, has that template as its body (`body_call`);
- a define name is shared by every file: one that Alertmanager's own templates or another
  file already define would silently replace it for every receiver (`define_problems`).

Whether a template parses and runs is Alertmanager's to say: template_engine asks amtool.
The scan here reads only the structure (actions, define blocks) as Go's lexer does, and
reports only what Go's parser refuses too.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from ..errors import Location, SpecError

CARRIED_PREFIX = "notify-reconciler-"
"""Template files the render carries next to the config (or into the Secret) start with this."""
SECRET_TEMPLATE_DIR = "/etc/alertmanager/config"
"""Where prometheus-operator mounts the keys of the config Secret in the Alertmanager pod."""
DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'
DEFAULT_HTML = '{{ template "email.default.html" . }}'
"""What Alertmanager 0.25 fills in for an e-mail config that sets no Subject header or html."""

# The names Alertmanager 0.25's own default.tmpl and email.tmpl define: a file of ours that
# defined one would change the mails (and chat messages) of every receiver in the config.
ALERTMANAGER_DEFINES = frozenset({
    "__alertmanager", "__alertmanagerURL", "__subject", "__description", "__text_alert_list",
    "__text_values_list", "slack.default.title", "slack.default.username", "slack.default.fallback",
    "slack.default.callbackid", "slack.default.pretext", "slack.default.titlelink", "slack.default.iconemoji",
    "slack.default.iconurl", "slack.default.text", "slack.default.footer", "pagerduty.default.description",
    "pagerduty.default.client", "pagerduty.default.clientURL", "pagerduty.default.instances",
    "opsgenie.default.message", "opsgenie.default.description", "opsgenie.default.source",
    "wechat.default.message", "wechat.default.to_user", "wechat.default.to_party", "wechat.default.to_tag",
    "wechat.default.agent_id", "victorops.default.state_message", "victorops.default.entity_display_name",
    "victorops.default.monitoring_tool", "pushover.default.title", "pushover.default.message",
    "pushover.default.url", "sns.default.subject", "sns.default.message", "telegram.default.message",
    "discord.default.title", "discord.default.message", "webex.default.message", "email.default.subject",
    "email.default.html"})


@dataclass(frozen=True)
class TemplateFile:
    """One template file of the spec folder, as the render carries it."""

    path: str
    """Relative to the spec folder, as users see it."""
    data: bytes
    carried: str
    """The file name it gets next to the config (and its key in a Secret)."""
    body: str | None
    """The template that is the body: the carried name, or the one define's name."""
    defines: tuple[tuple[str, int], ...]
    """(name, line) of every define and block in it."""
    scan_error: SpecError | None = None
    """What the structure scan refused; Alertmanager's engine (amtool) says it better, with
    Go's own words and line, wherever it is installed (template_engine.check_templates)."""


class ScanError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def carried_name(path: str, data: bytes) -> str:
    """notify-reconciler-<path, as a name>-<12 hex digits of its path and content>.tmpl.
    Also a valid Secret key ([-._a-zA-Z0-9]+)."""
    stem = path.removesuffix(".tmpl")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")[:60] or "template"
    digest = hashlib.sha256(path.encode() + b"\0" + data).hexdigest()[:12]
    return f"{CARRIED_PREFIX}{stem}-{digest}.tmpl"


def template_file(path: str, data: bytes) -> tuple[TemplateFile | None, list[SpecError]]:
    """The carried form of one file, or the located reasons it cannot be a body."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [SpecError(Location(path, line, 1), "", f"byte 0x{data[exc.start]:02x} is not UTF-8: save the "
                                                             "template as UTF-8")]
    carried = carried_name(path, data)
    try:
        defines, top_level = scan(text)
    except ScanError as exc:
        refused = SpecError(Location(path, exc.line, 1), "", f"{exc}: this template does not parse")
        return TemplateFile(path, data, carried, carried, (), refused), []
    if top_level:
        body = carried
    elif len(defines) == 1:
        body = defines[0][0]
    elif not defines:
        return None, [SpecError(Location(path, 1, 1), "", "the template is empty: write the mail's body in it")]
    else:
        names = ", ".join(repr(name) for name, _ in defines)
        return None, [SpecError(Location(path, 1, 1), "", f"defines {names} and has nothing outside them, so "
                                                          "which one is the body is not said: add a line "
                                                          f'{{{{ template "{defines[0][0]}" . }}}} (with the body\'s '
                                                          "name) outside the define blocks")]
    return TemplateFile(path, data, carried, body, tuple(defines)), []


def define_problems(files: list[TemplateFile]) -> list[SpecError]:
    """A define name may be used once across the files and not be one of Alertmanager's own:
    Alertmanager keeps the last one loaded, for every receiver."""
    errors = []
    first: dict[str, tuple[str, int]] = {}
    for item in sorted(files, key=lambda f: f.path):
        for name, line in item.defines:
            where = Location(item.path, line, 1)
            if name in ALERTMANAGER_DEFINES:
                errors.append(SpecError(where, "", f"defines {name!r}, a template of Alertmanager's own: it would "
                                                   "change the mails and messages of every receiver; rename it"))
            elif name.startswith(CARRIED_PREFIX):
                errors.append(SpecError(where, "", f"defines {name!r}: names starting with {CARRIED_PREFIX!r} are "
                                                   "the ones notify-reconciler gives the files it carries; rename it"))
            elif name in first and first[name][0] != item.path:
                other = Location(*first[name], 1)
                errors.append(SpecError(where, "", f"defines {name!r}, which {other} defines too: Alertmanager loads "
                                                   "every template file into one namespace and keeps one of them "
                                                   "for both; rename one"))
            else:
                first.setdefault(name, (item.path, line))
    return errors


# -- Go's template lexer, for the structure only ------------------------------------------------

_KEYWORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPENS = {"if", "range", "with", "define", "block"}


def scan(text: str) -> tuple[list[tuple[str, int]], bool]:
    """(define and block names with their line, whether anything but blank text and comments
    stands outside define blocks). Raises ScanError for what Go's parser refuses too: an
    action or comment left open, an unterminated string, an `end` without its opener, a
    block left open, a define that is not at the top level or has no quoted name."""
    defines: list[tuple[str, int]] = []
    top_level = False
    stack: list[str] = []
    position = 0
    while True:
        start = text.find("{{", position)
        segment = text[position:start if start >= 0 else len(text)]
        if not stack and segment.strip():
            top_level = True
        if start < 0:
            break
        line = text.count("\n", 0, start) + 1
        inner_start = start + 2
        if text.startswith("- ", inner_start) or text.startswith("-\t", inner_start) \
                or text.startswith("-\n", inner_start) or text.startswith("-\r", inner_start):
            inner_start += 2  # Go's trim marker is '-' and one space; a comment may follow it
        body_start = inner_start
        while body_start < len(text) and text[body_start] in " \t\r\n":
            body_start += 1
        if text.startswith("/*", inner_start):
            close = text.find("*/", inner_start + 2)
            if close < 0:
                raise ScanError(line, "unclosed comment")
            end = _action_end(text, close + 2, line, comment=True)
            position = end
            continue
        end_inner, end = _find_close(text, inner_start, line)
        words = text[body_start:end_inner]
        keyword = _KEYWORD.match(words)
        word = keyword.group(0) if keyword else ""
        if word in _OPENS:
            if word == "define" and stack:
                raise ScanError(line, "unexpected <define> in command")
            if word in ("define", "block"):
                name = re.match(r'(?:define|block)\s*("(?:[^"\\\n]|\\.)*"|`[^`]*`)', words)
                if not name:
                    raise ScanError(line, f"no template name in {word} clause: write {{{{ {word} \"name\" }}}}")
                literal = name.group(1)
                defines.append((literal[1:-1] if literal.startswith("`") else _unquote(literal), line))
            if not stack and word != "define":
                top_level = True
            stack.append(word)
        elif word == "end":
            if not stack:
                raise ScanError(line, "unexpected {{end}}")
            stack.pop()
        elif not stack:
            top_level = True
        position = end
    if stack:
        raise ScanError(text.count("\n") + 1, f"unexpected EOF: a {{{{{stack[-1]}}}}} has no {{{{end}}}}")
    return defines, top_level


def _find_close(text: str, index: int, line: int) -> tuple[int, int]:
    """Skip an action's inside (strings and raw strings may hold '}}') to its closing
    delimiter; returns (where the inside ends, where the text after the action starts)."""
    while index < len(text):
        char = text[index]
        if char == '"' or char == "'":
            index = _skip_quoted(text, index, char, line)
            continue
        if char == "`":
            close = text.find("`", index + 1)
            if close < 0:
                raise ScanError(line, "unterminated raw quoted string")
            index = close + 1
            continue
        if text.startswith(" -}}", index) or text.startswith("\t-}}", index) or text.startswith("\n-}}", index) \
                or text.startswith("\r-}}", index):
            return index, index + 4
        if text.startswith("}}", index):
            return index, index + 2
        index += 1
    raise ScanError(line, "unclosed action")


def _action_end(text: str, index: int, line: int, comment: bool) -> int:
    match = re.compile(r"\s*(-\}\}|\}\})").match(text, index)
    if not match or (match.group(1) == "-}}" and match.start(1) == index):
        raise ScanError(line, "comment ends before closing delimiter")
    return match.end()


def _skip_quoted(text: str, index: int, quote: str, line: int) -> int:
    index += 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "\n":
            break
        if char == quote:
            return index + 1
        index += 1
    raise ScanError(line, "unterminated quoted string" if quote == '"' else "unterminated character constant")


def _unquote(literal: str) -> str:
    try:
        return json.loads(literal)
    except ValueError:
        return literal[1:-1]
