"""Alertmanager matchers, read as Alertmanager 0.25 reads them. Pure.

A route's `matchers` entry goes through Alertmanager's `labels.ParseMatchers`: an optional
`{`/`}`, matchers split at commas outside double quotes, each one `label op value` with Go's
idea of whitespace, and `=~`/`!~` values compiled by Go's `regexp` as ``^(?:value)$``.
Python's `re`, its `\\s` and the C++ RE2 binding all differ from that in small ways (non-ASCII
spaces, `a**`, `(?<name>)`, `\\C`, Unicode class names, the anchoring), so both are done
here the way the Go code does them; tests/integration/test_matchers_amtool.py holds the
verdicts equal to the real `amtool check-config` over a generated corpus.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

__all__ = ["Matcher", "parse_matchers", "MatcherError", "go_regexp_problem"]


class MatcherError(ValueError):
    """Why Alertmanager would refuse a matcher string, in words. `several`: the string held
    more than one matcher (commas outside quotes separate them)."""

    several = False


class Matcher(NamedTuple):
    name: str
    op: str
    value: str
    """Unescaped, as Alertmanager holds it (a regex without the anchors it adds)."""

    def text(self) -> str:
        """As Alertmanager prints it and a RecipientList writes it: label, operator, value in
        double quotes (`parse_matchers` reads it back as this matcher)."""
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'

    def negated(self) -> Matcher:
        return Matcher(self.name, _NEGATED[self.op], self.value)

    def matches(self, value: str) -> bool:
        """Whether a label with `value` ("" for a label the alert lacks) passes, as Alertmanager
        decides it: a regex must match the whole value (Go anchors it as ^(?:...)$), judged
        with RE2, the engine Go's regexp follows. MatcherError for a regex RE2 cannot compile."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = _compiled(self.value).search(value) is not None
        return found if self.op == "=~" else not found


_NEGATED = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}
_COMPILED: dict[str, Any] = {}


def _compiled(pattern: str) -> Any:
    compiled = _COMPILED.get(pattern)
    if compiled is None:
        import re2  # here: the spec model reads matchers without matching any

        options = re2.Options()
        options.log_errors = False
        try:
            compiled = _COMPILED[pattern] = re2.compile(f"^(?:{pattern})$", options)
        except re2.error as exc:
            raise MatcherError(f"{pattern!r} cannot be evaluated here (RE2 says {exc})") from None
    return compiled


# Go's regexp `\s` is [\t\n\f\r ] (no \v); the label is Prometheus' with ':' allowed.
_MATCHER = re.compile(r"[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*(.*?)[\t\n\f\r ]*",
                      re.DOTALL)
# Go's unicode.IsSpace, which strings.TrimSpace uses (Python's isspace also takes \x1c-\x1f).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"


def parse_matchers(text: str) -> list[Matcher]:
    """The matchers of one `matchers:` entry, as Alertmanager 0.25 reads it; `MatcherError`
    if Alertmanager would refuse it."""
    if text.startswith("{"):
        text = text[1:]
    if text.endswith("}"):
        text = text[:-1]
    tokens, token, quoted, escaped = [], [], False, False
    for char in text:
        if char == "," and not quoted:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if escaped:
                escaped = False
            else:
                quoted = not quoted
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = "".join(token).strip(_GO_SPACE)
    if last:
        tokens.append(last)
    try:
        return [_parse_matcher(token) for token in tokens]
    except MatcherError as exc:
        exc.several = len(tokens) > 1
        raise


def _parse_matcher(text: str) -> Matcher:
    parsed = _MATCHER.fullmatch(text)
    if not parsed:
        raise MatcherError(f"{text!r} is not a matcher")
    name, op, raw = parsed.groups()
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
        elif char == "\\":
            if index < len(raw) - 1:
                escaped = True
            else:
                value.append("\\")
        elif char == '"':
            if not quoted or index < len(raw) - 1:
                raise MatcherError(f"the value {parsed.group(3)!r} holds a double quote that is not escaped")
            quoted = False
        else:
            value.append(char)
    if quoted:
        raise MatcherError(f"the value {parsed.group(3)!r} has no closing double quote")
    matcher = Matcher(name, op, "".join(value))
    if op in ("=~", "!~"):
        problem = go_regexp_problem("^(?:" + matcher.value + ")$")
        if problem:
            raise MatcherError(f"{matcher.value!r} is not a regular expression Alertmanager accepts (Go's regexp "
                               f"says {problem!r})")
    return matcher


# -- Go's regexp/syntax parser (Perl flags), as far as accepting or refusing goes ---------

_PERL_CLASSES = frozenset("dDsSwW")
_POSIX_CLASSES = frozenset({"alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print",
                            "punct", "space", "upper", "word", "xdigit"})
# Go 1.19's unicode tables (Unicode 13): the categories and scripts `\p{...}` knows.
_UNICODE_CATEGORIES = frozenset(
    "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs".split())
_UNICODE_SCRIPTS = frozenset("""
Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki
Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee
Chorasmian Common Coptic Cuneiform Cypriot Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan
Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi
Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited
Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kayah_Li Kharoshthi
Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani
Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui
Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nandinagari New_Tai_Lue
Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic
Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau
Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting
Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet
Takri Tamil Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Ugaritic Vai Wancho Warang_Citi Yezidi Yi
Zanabazar_Square""".split())
_MAX_REPEAT = 1000
_HEX = "0123456789abcdefABCDEF"


class _GoSyntaxError(Exception):
    pass


class _Node:
    """What the validity checks need of a parsed piece: repeat bounds and children."""

    __slots__ = ("kind", "max", "min", "subs")

    def __init__(self, kind: str, subs: list | None = None, low: int = 0, high: int = 0) -> None:
        self.kind, self.subs, self.min, self.max = kind, subs or [], low, high


def go_regexp_problem(pattern: str) -> str | None:
    """Why Go's `regexp.Compile` (Go 1.19) refuses `pattern`, in Go's words, or None."""
    try:
        _GoParser(pattern).parse()
    except _GoSyntaxError as exc:
        return str(exc)
    return None


def _repeat_is_valid(node: _Node, limit: int) -> bool:
    """Nested counted repeats may not multiply past 1000 (Go's repeatIsValid)."""
    if node.kind == "repeat":
        most = node.max if node.max >= 0 else node.min
        if most == 0:
            return True
        if most > limit:
            return False
        limit //= most
    return all(_repeat_is_valid(sub, limit) for sub in node.subs)


class _GoParser:
    def __init__(self, text: str) -> None:
        self.whole = text
        self.stack: list[_Node] = []

    def fail(self, code: str, expr: str) -> None:
        # The whole text is ^(?:value)$, which the user did not write: name only the part.
        raise _GoSyntaxError(code if expr == self.whole or not expr else f"{code}: {expr}")

    def parse(self) -> None:
        t = self.whole
        last_repeat = ""
        while t:
            repeat = ""
            c = t[0]
            if c == "(":
                if len(t) >= 2 and t[1] == "?":
                    t = self.perl_flags(t)
                else:
                    self.stack.append(_Node("("))
                    t = t[1:]
            elif c == "|":
                self.collapse()
                self.stack.append(_Node("|"))
                t = t[1:]
            elif c == ")":
                self.right_paren()
                t = t[1:]
            elif c in "^$.":
                self.stack.append(_Node("atom"))
                t = t[1:]
            elif c == "[":
                t = self.char_class(t)
                self.stack.append(_Node("atom"))
            elif c in "*+?":
                before = t
                t = self.repeat(0, -1, before, t[1:], last_repeat)
                repeat = before
            elif c == "{":
                parsed = self.parse_repeat(t)
                if parsed is None:
                    self.stack.append(_Node("atom"))  # not a repeat: a literal {
                    t = t[1:]
                else:
                    low, high, after = parsed
                    if low < 0 or low > _MAX_REPEAT or high > _MAX_REPEAT or (high >= 0 and low > high):
                        self.fail("invalid repeat count", t[:len(t) - len(after)])
                    before = t
                    t = self.repeat(low, high, before, after, last_repeat, counted=True)
                    repeat = before
            elif c == "\\":
                t = self.escape_atom(t)
            else:
                self.stack.append(_Node("atom"))
                t = t[1:]
            last_repeat = repeat
        self.collapse()
        self.alternatives()
        if len(self.stack) != 1:
            self.fail("missing closing )", self.whole)

    def alternatives(self) -> list[_Node]:
        """Pop the alternatives of the innermost group (or the top level) off the stack."""
        subs = []
        while len(self.stack) >= 3 and self.stack[-2].kind == "|":
            subs.append(self.stack.pop())
            self.stack.pop()
        return subs

    def collapse(self) -> None:
        """Concatenate (and join alternatives of) everything above the last marker."""
        marker = len(self.stack)
        while marker and self.stack[marker - 1].kind not in ("(", "|"):
            marker -= 1
        subs = self.stack[marker:]
        del self.stack[marker:]
        self.stack.append(_Node("concat", subs))

    def right_paren(self) -> None:
        self.collapse()
        subs = self.alternatives()
        if len(self.stack) < 2 or self.stack[-2].kind != "(":
            self.fail("unexpected )", self.whole)
        subs.append(self.stack.pop())
        self.stack.pop()
        self.stack.append(_Node("group", subs))

    def repeat(self, low: int, high: int, before: str, after: str, last_repeat: str, counted: bool = False) -> str:
        if after.startswith("?"):
            after = after[1:]
        if last_repeat:
            self.fail("invalid nested repetition operator", last_repeat[:len(last_repeat) - len(after)])
        if not self.stack or self.stack[-1].kind in ("(", "|"):
            self.fail("missing argument to repetition operator", before[:len(before) - len(after)])
        node = _Node("repeat" if counted else "star", [self.stack.pop()], low, high)
        self.stack.append(node)
        if counted and (low >= 2 or high >= 2) and not _repeat_is_valid(node, _MAX_REPEAT):
            self.fail("invalid repeat count", before[:len(before) - len(after)])
        return after

    @staticmethod
    def parse_int(s: str) -> tuple[int, str] | None:
        if not s or not s[0].isascii() or not s[0].isdigit():
            return None
        if len(s) >= 2 and s[0] == "0" and s[1] in "0123456789":
            return None
        digits = re.match("[0-9]+", s).group()  # type: ignore[union-attr]
        value = 0
        for digit in digits:
            if value >= 10**8:
                value = -1
                break
            value = value * 10 + int(digit)
        return value, s[len(digits):]

    def parse_repeat(self, s: str) -> tuple[int, int, str] | None:
        s = s[1:]
        first = self.parse_int(s)
        if first is None:
            return None
        low, s = first
        if not s:
            return None
        if s[0] != ",":
            high = low
        else:
            s = s[1:]
            if not s:
                return None
            if s[0] == "}":
                high = -1
            else:
                second = self.parse_int(s)
                if second is None:
                    return None
                high, s = second
                if high < 0:
                    low = -1
        if not s or s[0] != "}":
            return None
        return low, high, s[1:]

    def perl_flags(self, t: str) -> str:
        whole = t
        if len(t) > 4 and t[2] == "P" and t[3] == "<":
            end = t.find(">")
            if end < 0:
                self.fail("invalid named capture", whole)
            name = t[4:end]
            if not name or not all(c == "_" or (c.isascii() and c.isalnum()) for c in name):
                self.fail("invalid named capture", t[:end + 1])
            self.stack.append(_Node("("))
            return t[end + 1:]
        t = t[2:]
        sign, saw_flag = 1, False
        while t:
            c, t = t[0], t[1:]
            if c in "imsU":
                saw_flag = True
            elif c == "-":
                if sign < 0:
                    break
                sign, saw_flag = -1, False
            elif c in ":)":
                if sign < 0 and not saw_flag:
                    break
                if c == ":":
                    self.stack.append(_Node("("))
                return t
            else:
                break
        self.fail("invalid or unsupported Perl syntax", whole[:len(whole) - len(t)])
        return ""  # unreachable

    def escape_atom(self, t: str) -> str:
        if len(t) >= 2:
            c = t[1]
            if c in "AbBz":
                self.stack.append(_Node("atom"))
                return t[2:]
            if c == "C":
                self.fail("invalid escape sequence", t[:2])
            if c == "Q":
                literal, found, rest = t[2:].partition("\\E")
                for _ in literal:
                    self.stack.append(_Node("atom"))
                return rest if found else ""
        rest = self.unicode_class(t)
        if rest is None and len(t) >= 2 and t[1] in _PERL_CLASSES:
            rest = t[2:]
        if rest is None:
            _, rest = self.escape(t)
        self.stack.append(_Node("atom"))
        return rest

    def unicode_class(self, s: str) -> str | None:
        if len(s) < 2 or s[0] != "\\" or s[1] not in "pP":
            return None
        t = s[2:]
        if not t or t[0] != "{":
            seq, name, rest = s[:3], t[:1], t[1:]
        else:
            end = s.find("}")
            if end < 0:
                self.fail("invalid character class range", s)
            seq, name, rest = s[:end + 1], s[3:end], s[end + 1:]
        if name.startswith("^"):
            name = name[1:]
        if name != "Any" and name not in _UNICODE_CATEGORIES and name not in _UNICODE_SCRIPTS:
            self.fail("invalid character class range", seq)
        return rest

    def escape(self, s: str) -> tuple[int, str]:
        t = s[1:]
        if not t:
            self.fail("trailing backslash at end of expression", "")
        c, t = t[0], t[1:]
        if c.isascii() and not c.isalnum():
            return ord(c), t
        if c in "1234567" and t and t[0] in "01234567" or c == "0":
            value = int(c)
            for _ in range(2):
                if not t or t[0] not in "01234567":
                    break
                value, t = value * 8 + int(t[0]), t[1:]
            return value, t
        if c == "x" and t:
            c, t = t[0], t[1:]
            if c == "{":
                digits = 0
                value = 0
                while t:
                    c, t = t[0], t[1:]
                    if c == "}":
                        if digits:
                            return value, t
                        break
                    if c not in _HEX:
                        break
                    value = value * 16 + int(c, 16)
                    if value > 0x10FFFF:
                        break
                    digits += 1
            else:
                second, t = (t[0], t[1:]) if t else ("", t)
                if c in _HEX and second and second in _HEX:
                    return int(c + second, 16), t
        elif c in "afnrtv":
            return ord("\a\f\n\r\t\v"["afnrtv".index(c)]), t
        self.fail("invalid escape sequence", s[:len(s) - len(t)])
        return 0, ""  # unreachable

    def char_class(self, s: str) -> str:
        t = s[1:]
        if t.startswith("^"):
            t = t[1:]
        first = True
        while not t or t[0] != "]" or first:
            first = False
            if len(t) > 2 and t[0] == "[" and t[1] == ":":
                end = t.find(":]", 2)
                if end >= 0:
                    name = t[2:end]
                    if name.removeprefix("^") not in _POSIX_CLASSES:
                        self.fail("invalid character class range", t[:end + 2])
                    t = t[end + 2:]
                    continue
            rest = self.unicode_class(t)
            if rest is not None:
                t = rest
                continue
            if len(t) >= 2 and t[0] == "\\" and t[1] in _PERL_CLASSES:
                t = t[2:]
                continue
            whole_range = t
            low, t = self.class_char(t, s)
            if len(t) >= 2 and t[0] == "-" and t[1] != "]":
                high, t = self.class_char(t[1:], s)
                if high < low:
                    self.fail("invalid character class range", whole_range[:len(whole_range) - len(t)])
        return t[1:]

    def class_char(self, s: str, whole: str) -> tuple[int, str]:
        if not s:
            self.fail("missing closing ]", whole)
        if s[0] == "\\":
            return self.escape(s)
        return ord(s[0]), s[1:]
