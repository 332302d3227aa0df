"""notification-manager's `alertSelector`, evaluated as its Go code does, and translated to and
from Alertmanager matchers with the same meaning. Pure.

What the Go code does (kubesphere/notification-manager `apis/v2beta2/common.go`,
`LabelSelector.Matches`, which the filter stage calls with each alert's labels; v2beta1 takes a
plain `metav1.LabelSelector`):
- every `matchExpressions` entry whose operator is not `Match`, and every `matchLabels` pair (as
  `In` with one value), goes through apimachinery's `LabelSelectorAsSelector`: the key must be a
  Kubernetes qualified name, each value a Kubernetes label value (at most 63 characters of
  ``[A-Za-z0-9_.-]``, starting and ending with a letter or digit, or empty), `In`/`NotIn` need
  values and `Exists`/`DoesNotExist` none, any other operator is an error. `In`: the label is
  present with one of the values; `NotIn`: absent, or present with none of them; `Exists`,
  `DoesNotExist`: present, absent. All are ANDed; no requirement at all selects every alert.
- `Match` takes `regexValue`, a Go regular expression, *searched* (`regexp.MatchString`, not
  anchored) in the label's value. Releases 2.4 and 2.5 skip it when the alert lacks the label;
  2.6 and later search the empty string instead (commit 45ca199). Earlier releases have no Match.
- an error (a value the admission webhook would have refused, a regex that does not compile)
  fails the filter stage: nobody gets that batch.

Alertmanager delivers alerts without empty label values (its API drops them: removeEmptyLabels in
api/v2), so here "absent" and "empty" are one,
as they are for Alertmanager's matchers: `Exists k` is `k!=""`, `DoesNotExist k` is `k=""`.

`as_matchers` (import) says a selector as matchers; `from_matchers` (render) says matchers as a
selector, preferring what the console shows (In, NotIn, Exists, DoesNotExist) and using Match
only where those cannot say it, in a form that means the same on every release that has Match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..am.matchers import Matcher, go_regexp_problem

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Match")
LABEL_OPERATORS = OPERATORS[:4]
"""What v2beta1 (apimachinery's LabelSelector) takes."""
RELEASES = ("2.4", "2.6")
"""The two meanings of Match: 2.4 and 2.5 skip an absent label; 2.6 and later search ''."""
CURRENT = "2.6"

_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_ALERT_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
"""A label name an alert can have (Prometheus' model.LabelName)."""
_LITERALS = re.compile(r"(?:[A-Za-z0-9_-]|\\\.)*(?:\|(?:[A-Za-z0-9_-]|\\\.)*)*")
"""A regex that is only literal alternatives (`db|storage`, `a\\.b|`): said with In/NotIn."""
_GO_META = set("\\.+*?()|[]{}^$")
_LONGEST_COMPLEMENT = 200
"""Characters of a value `!=` is said of with a complement regex (one nested group each;
Go's parser refuses nesting deeper than 1000)."""


class SelectorError(ValueError):
    """What Go's LabelSelector code returns as an error, in its words."""


class Untranslatable(ValueError):
    """Why a selector or a matcher has no counterpart with the same meaning."""


@dataclass(frozen=True)
class Requirement:
    """One `matchExpressions` entry."""

    key: str
    operator: str
    values: tuple[str, ...] = ()
    regex: str = ""
    """regexValue, for Match."""

    def to_object(self) -> dict[str, Any]:
        written: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            written["values"] = list(self.values)
        if self.operator == "Match":
            written["regexValue"] = self.regex
        return written


@dataclass(frozen=True)
class Selector:
    """An `alertSelector`: matchLabels pairs (in the order written) and matchExpressions."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    def requirements(self) -> list[Requirement]:
        """matchLabels as In requirements, then the expressions (Go's order)."""
        return [Requirement(key, "In", (value,)) for key, value in self.match_labels] + list(self.expressions)

    def to_object(self) -> dict[str, Any]:
        written: dict[str, Any] = {}
        if self.match_labels:
            written["matchLabels"] = dict(self.match_labels)
        if self.expressions:
            written["matchExpressions"] = [requirement.to_object() for requirement in self.expressions]
        return written


# -- Kubernetes' validation -----------------------------------------------------------------

def key_problem(key: str) -> str | None:
    """Why apimachinery's validateLabelKey refuses `key` (a qualified name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"{key!r}: the prefix before '/' must be a DNS subdomain (lower-case letters, digits, '-' and '.')"
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        return (f"{key!r} is not a Kubernetes label key: at most 63 letters, digits, '-', '_' and '.', starting "
                "and ending with a letter or digit")
    return None


def value_problem(value: str) -> str | None:
    """Why apimachinery's validateLabelValue refuses `value`, or None."""
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        return (f"{value!r} is not a Kubernetes label value: at most 63 letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit")
    return None


def requirement_problem(requirement: Requirement, api: str = "v2beta2") -> str | None:
    """Why notification-manager (its admission webhook, `LabelSelector.Validate`) refuses
    `requirement`, or None."""
    operator = requirement.operator
    if operator == "Match" and api == "v2beta2":
        return go_regexp_problem(requirement.regex) and \
            f"regexValue {requirement.regex!r} is not a Go regular expression: {go_regexp_problem(requirement.regex)}"
    if operator not in LABEL_OPERATORS:
        known = OPERATORS if api == "v2beta2" else LABEL_OPERATORS
        return f"{operator!r} is not a valid label selector operator: use one of {', '.join(known)}"
    problem = key_problem(requirement.key)
    if problem:
        return problem
    if operator in ("In", "NotIn") and not requirement.values:
        return f"{operator} needs at least one value"
    if operator in ("Exists", "DoesNotExist") and requirement.values:
        return f"{operator} takes no values"
    return next(filter(None, map(value_problem, requirement.values)), None)


# -- the Go code's meaning ------------------------------------------------------------------

def selects(selector: Selector | None, labels: Mapping[str, str], release: str = CURRENT) -> bool:
    """Whether a Receiver with `selector` gets an alert with `labels`, as LabelSelector.Matches
    decides it on `release`. SelectorError where the Go code returns an error."""
    if selector is None:
        return True  # no alertSelector: every alert
    for requirement in selector.expressions:
        if requirement.operator != "Match":
            continue
        if requirement.key not in labels and release != "2.6":
            continue
        problem = go_regexp_problem(requirement.regex)
        if problem:
            raise SelectorError(problem)
        if not _go_search(requirement.regex, labels.get(requirement.key, "")):
            return False
    label_requirements = [r for r in selector.requirements() if r.operator != "Match"]
    for requirement in label_requirements:
        problem = requirement_problem(requirement, "v2beta1")
        if problem:
            raise SelectorError(problem)
    return all(_holds(requirement, labels) for requirement in label_requirements)


def _holds(requirement: Requirement, labels: Mapping[str, str]) -> bool:
    """apimachinery's Requirement.Matches."""
    present = requirement.key in labels
    if requirement.operator == "In":
        return present and labels[requirement.key] in requirement.values
    if requirement.operator == "NotIn":
        return not present or labels[requirement.key] not in requirement.values
    return present if requirement.operator == "Exists" else not present


_SEARCHERS: dict[str, Any] = {}


def _go_search(pattern: str, text: str) -> bool:
    """regexp.MatchString(pattern, text): an unanchored search, with RE2 (Go's engine's model)."""
    compiled = _SEARCHERS.get(pattern)
    if compiled is None:
        import re2  # here: reading objects needs no regex engine

        options = re2.Options()
        options.log_errors = False
        try:
            compiled = _SEARCHERS[pattern] = re2.compile(pattern, options)
        except re2.error as exc:
            raise SelectorError(f"{pattern!r} cannot be evaluated here (RE2 says {exc})") from None
    return compiled.search(text) is not None


# -- selector -> matchers (import) ----------------------------------------------------------

@dataclass(frozen=True)
class AsMatchers:
    matchers: tuple[Matcher, ...]
    notes: tuple[str, ...] = ()
    """What the user should know: a Match whose meaning changed between releases."""


def as_matchers(selector: Selector | None) -> AsMatchers:
    """The Alertmanager matchers that select exactly the alerts `selector` selects on
    notification-manager 2.6 and later (the notes say where 2.4 and 2.5 differ).
    Untranslatable when no alert can pass (the list would never be mailed) or a requirement
    has no matcher. The selector must be valid (`requirement_problem`)."""
    if selector is None:
        return AsMatchers(())
    matchers: list[Matcher] = []
    notes: list[str] = []
    requirements = selector.requirements()
    present = {r.key for r in requirements if r.operator in ("In", "Exists")}
    for requirement in requirements:
        key, operator = requirement.key, requirement.operator
        if not _ALERT_LABEL.fullmatch(key):
            # No alert has such a label: In, Exists and Match (of a regex that needs some text)
            # select nothing; NotIn and DoesNotExist hold for every alert.
            if operator in ("NotIn", "DoesNotExist") or (operator == "Match" and _go_search(requirement.regex, "")):
                continue
            raise Untranslatable(f"{key!r} is not a label name an alert can have, so {operator} on it selects no "
                                 "alert: remove it, or name the alert label")
        values = [value for value in requirement.values if value]  # no alert label is empty
        if operator == "In":
            if not values:
                raise Untranslatable(f"In {key} with only the empty value selects no alert (Alertmanager sends no "
                                     "empty labels): give the values meant")
            matchers.append(Matcher(key, "=", values[0]) if len(values) == 1
                            else Matcher(key, "=~", "|".join(map(go_quote, values))))
        elif operator == "NotIn":
            if values:
                matchers.append(Matcher(key, "!=", values[0]) if len(values) == 1
                                else Matcher(key, "!~", "|".join(map(go_quote, values))))
        elif operator == "Exists":
            matchers.append(Matcher(key, "!=", ""))
        elif operator == "DoesNotExist":
            matchers.append(Matcher(key, "=", ""))
        else:
            matchers.append(Matcher(key, "=~", _anchored(requirement.regex)))
            if key not in present and not _go_search(requirement.regex, ""):
                notes.append(f"Match {key} {requirement.regex!r} became {matchers[-1].text()}: alerts without "
                             f"{key} are not selected, as notification-manager 2.6 and later decide; 2.4 and 2.5 "
                             f"selected them too (add {key}=\"\" as a second list to keep that)")
    return AsMatchers(tuple(dict.fromkeys(matchers)), tuple(notes))


def _anchored(regex: str) -> str:
    """A Go regex whose whole-value match (Alertmanager anchors it) is `regex`'s search."""
    inner = regex[4:-2] if regex.startswith("^(?:") and regex.endswith(")$") else None
    if inner is not None and not go_regexp_problem(inner):
        return inner  # the render's own form: both compile, so the group spans the whole
    if regex.startswith("^") and regex.endswith("$") and not set(regex[1:-1]) & set("|\\()[]^$"):
        return regex[1:-1]
    return f"(?s:.*)(?:{regex})(?s:.*)"


def go_quote(text: str) -> str:
    """Go's regexp.QuoteMeta."""
    return "".join(f"\\{char}" if char in _GO_META else char for char in text)


# -- matchers -> selector (render) ----------------------------------------------------------

@dataclass(frozen=True)
class FromMatchers:
    selector: Selector | None
    notes: tuple[str, ...] = ()
    """Where the selector means something else on an older notification-manager."""
    uses_match: bool = False
    """Whether it needs Match (notification-manager 2.4 or later)."""


def from_matchers(matchers: list[Matcher] | tuple[Matcher, ...], api: str = "v2beta2") -> FromMatchers:
    """The alertSelector that selects exactly the alerts `matchers` match, on every release
    with Match (v2beta2), or with label requirements only (v2beta1). Untranslatable, naming the
    matcher, where there is none."""
    requirements: list[Requirement] = []
    notes: list[str] = []
    for matcher in matchers:
        found, note = _requirements(matcher)
        if api != "v2beta2" and any(r.operator == "Match" for r in found):
            raise Untranslatable(f"{matcher.text()}: the v2beta1 alertSelector cannot say this (it needs Match, "
                                 "which only v2beta2 has): render --api v2beta2, or match on a value of up to 63 "
                                 "letters, digits, '-', '_' and '.' without a regex")
        requirements += found
        if note:
            notes.append(f"{matcher.text()}: {note}")
    if not requirements:
        return FromMatchers(None)
    unique = tuple(dict.fromkeys(requirements))
    return FromMatchers(Selector((), unique), tuple(notes), any(r.operator == "Match" for r in unique))


def _requirements(matcher: Matcher) -> tuple[list[Requirement], str]:
    name, op, value = matcher
    labelled = key_problem(name) is None
    older = ("notification-manager 2.4 and 2.5 also select alerts without the label (their Match skips an absent "
             "label), 2.6 and later do not")
    if op in ("=", "!=") and value == "":
        if labelled:
            return [Requirement(name, "DoesNotExist" if op == "=" else "Exists")], ""
        # '^$' needs an empty (absent) value, which 2.4's skipping agrees with; '.' needs text.
        return ([Requirement(name, "Match", regex="^$")], "") if op == "=" else \
            ([Requirement(name, "Match", regex="(?s:.)")], older)
    if op in ("=", "!=") and labelled and value_problem(value) is None:
        return [Requirement(name, "In" if op == "=" else "NotIn", (value,))], ""
    if op == "=":
        return _present(name, labelled, f"^(?:{go_quote(value)})$", older)
    if op == "!=":
        if len(value) > _LONGEST_COMPLEMENT:
            raise Untranslatable(f"{matcher.text()}: notification-manager has no 'not equal' for a value that is not "
                                 f"a Kubernetes label value, and this one is too long to say as a regex "
                                 f"({len(value)} characters, at most {_LONGEST_COMPLEMENT})")
        return [Requirement(name, "Match", regex=f"^(?:{_complement(value)})$")], ""  # matches '': any release
    literals = _literal_alternatives(value)
    fits = literals is not None and labelled and all(value_problem(v) is None for v in literals)
    if op == "=~":
        if fits and "" not in literals:
            return [Requirement(name, "In", tuple(dict.fromkeys(literals)))], ""
        if Matcher(name, "=~", value).matches(""):
            return [Requirement(name, "Match", regex=f"^(?:{value})$")], ""
        return _present(name, labelled, f"^(?:{value})$", older)
    if not fits:
        raise Untranslatable(f"{matcher.text()}: notification-manager has no negated regex (Match only selects): "
                             "write the values to exclude as a list (team!~\"a|b\") or as several != matchers")
    kept = tuple(dict.fromkeys(v for v in literals if v))
    found = [Requirement(name, "Exists")] if "" in literals else []
    return found + ([Requirement(name, "NotIn", kept)] if kept else []), ""


def _present(name: str, labelled: bool, regex: str, older: str) -> tuple[list[Requirement], str]:
    """A Match of a regex the empty value fails: with Exists in front, every release agrees."""
    if labelled:
        return [Requirement(name, "Exists"), Requirement(name, "Match", regex=regex)], ""
    return [Requirement(name, "Match", regex=regex)], older


def _literal_alternatives(regex: str) -> list[str] | None:
    if not _LITERALS.fullmatch(regex):
        return None
    return [alternative.replace("\\.", ".") for alternative in regex.split("|")]


def _complement(value: str) -> str:
    """A Go regex matching every string but `value` (whole-value): '', a different first
    character then anything, or the same first character and the complement of the rest."""
    if not value:
        return "(?s:.+)"
    first = value[0]
    return f"(?:|[^\\x{{{ord(first):x}}}](?s:.*)|{go_quote(first)}{_complement(value[1:])})"


__all__ = ["AsMatchers", "CURRENT", "FromMatchers", "LABEL_OPERATORS", "OPERATORS", "RELEASES", "Requirement",
           "Selector", "SelectorError", "Untranslatable", "as_matchers", "from_matchers", "go_quote", "key_problem",
           "requirement_problem", "selects", "value_problem"]
