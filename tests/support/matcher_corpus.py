"""Matcher strings built from the pieces where Python, C++ RE2 and Go disagree."""

from __future__ import annotations

import random

SPACES = [" ", "\t", "\u00a0", "\u2003", "\u3000", "\x0b", "\x0c", "\x1c", "\u0085", "\u2028", "\r", "\n", ""]
LABELS = ["a", "team", "_x", ":m", "a:b", "1a", "a-b", "é", "a.b", ""]
OPS = ["=", "!=", "=~", "!~", "==", "~=", "=!", "!"]
REGEX_PIECES = [
    "a", ".", r"\.", r"\d", r"\D", r"\s", r"\w", r"\pL", r"\PL", r"\p{Greek}", r"\p{^Greek}", r"\p{greek}",
    r"\p{Lu}", r"\p{L}", r"\p{Cn}", r"\p{LC}", r"\p{Any}", r"\p{Toto}", r"\p{Yezidi}", r"\p{Letter}", r"\p", r"\pX",
    r"\Qa.b\E", r"\Qx", r"\E", r"\C", r"\z", r"\Z", r"\A", r"\b", r"\B", r"\G", r"\_", r"\-", r"\/", r"\ ", r"\é",
    r"\1", r"\8", r"\0", r"\012", r"\x41", r"\x4", r"\x{41}", r"\x{}", r"\x{110000}", r"\a", r"\e", r"\cA",
    r"\n", r"\t", r"\v", r"\f", r"\r", r"\h", r"\N", r"\R", r"\K", r"\X",
    "(?P<n>a)", "(?<n>a)", "(?'n'a)", "(?P<>a)", "(?P<é>a)", "(?P=n)", "(?:a)", "(?i)", "(?i:a)", "(?-i)", "(?i-s:a)",
    "(?U)", "(?x)", "(?)", "(?-)", "(?=a)", "(?!a)", "(?<=a)", "(?>a)", "(?#c)", "(", ")", "(a)", "()", "|", "a|b",
    "*", "+", "?", "*?", "+?", "??", "**", "*+", "++", "{2}", "{2,}", "{2,3}", "{3,2}", "{,2}", "{01}", "{1001}",
    "{1000}", "{", "}", "{a}", "^", "$",
    "[a-z]", "[z-a]", "[]a]", "[^]a]", "[a-]", "[-a]", r"[\d-z]", r"[a-\d]", "[[:alpha:]]", "[[:word:]]",
    "[[:^space:]]", "[[:foo:]]", "[[:alpha:]", r"[\b]", r"[\Q]", r"[\pL]", r"[\p{Greek}]", "[a", "[]", "[^]",
    "\u00e9", "\u00a0", ",", '\\"', '"', "\\\\", "\\",
]


COMMON = ["a", ".", r"\.", "db|web", ".*", "[0-9]+", r"\d{1,3}", "(a|b)", "x?", "-", ":", "/", "_"]


def regex(rng: random.Random) -> str:
    """Mostly everyday pieces, with one or two tricky ones among them."""
    pieces = [rng.choice(COMMON) for _ in range(rng.randint(0, 3))]
    for _ in range(rng.choice([0, 1, 1, 1, 2])):
        pieces.insert(rng.randint(0, len(pieces)), rng.choice(REGEX_PIECES))
    return "".join(pieces)


def matcher(rng: random.Random) -> str:
    """One `matchers:` entry: usually one well-formed-looking matcher with a tricky value,
    sometimes two, sometimes a broken frame."""
    def space() -> str:
        return rng.choice(["", " "]) if rng.random() < 0.75 else rng.choice(SPACES)

    def one() -> str:
        op = rng.choice(OPS[:4]) if rng.random() < 0.85 else rng.choice(OPS)
        label = rng.choice(LABELS[:3]) if rng.random() < 0.8 else rng.choice(LABELS)
        value = regex(rng) if op.endswith("~") or rng.random() < 0.3 else rng.choice(["x", "a b", "x,y", ""])
        quote = '"' if rng.random() < 0.85 else ""
        if quote and rng.random() < 0.5:
            value = value.replace('"', '\\"') if not value.endswith("\\") else value
        return space() + label + space() + op + space() + quote + value + quote + space()
    text = one() if rng.random() < 0.8 else one() + rng.choice([",", ", ", ",,"]) + one()
    if rng.random() < 0.1:
        text = "{" + text + rng.choice(["}", "", "}}"])
    return text


def corpus(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    cases = {matcher(rng) for _ in range(count)}
    return sorted(case for case in cases if case.strip())
