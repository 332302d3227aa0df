"""The fuzzers' harness and strategies (tests/hostile/test_fuzz*.py, and the compiled
validator's equivalence test): `outcome` runs the pipeline on some files and says whether
they were rejected, every error located, or accepted with a render the real `amtool
check-config` accepts; `DOCUMENT` and `MUTATIONS` draw specs of every shape and near-valid
repos.

Each example's loader + schema + render call runs under an alarm and tracemalloc: a call
still running after HANG_SECONDS fails with the stack it is stuck in, and one whose peak
allocation passes MEMORY_BYTES fails too. Both are about a hundred times what the worst input
here needs (0.12 s and 230 kB, measured), so a loaded machine does not trip them: they catch
a hang or a blow-up, they are not speed or size targets. amtool runs outside the bounds, once
per distinct render.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import tracemalloc
from contextlib import contextmanager
from typing import Iterator

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from reconciler.core.render import PREFIX, RenderOptions, render_alertmanager_config
from reconciler.errors import SpecErrors
from reconciler.specs.pipeline import parse_specs

from tests.support.routing import BASES, check_routing, label_sets, matchers_of_config


HANG_SECONDS = 10.0
MEMORY_BYTES = 32 * 1024 * 1024

FIELDS = ["host", "port", "ssl", "starttls", "tls", "username", "passwordFile", "passwordEnv", "from", "hello",
          "enabled", "recipients", "matchers", "repeatInterval", "groupBy", "groupWait", "groupInterval",
          "sendResolved", "password", "caFile", "serverName", "insecureSkipVerify", "email", "name"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=40), st.sampled_from(["a@example.com", "ops@@example", "12h", "0", "465", "25",
                                                           'severity="critical"', "team=~\"(\"", "smtp.example.com",
                                                           "/etc/pw", "SMTP_PASSWORD", "x\r\nBcc: y@z.com"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6)),
    max_leaves=25)
DOCUMENT = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["notify-reconciler/v1", "notify-reconciler/v1", "v2"]),
    "kind": st.sampled_from(["EmailServer", "RecipientList", "NotificationPolicy", "Nope"]),
    "metadata": st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "team-db", "Bad_Name", ""])}),
    "spec": st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8),
})
# deadline=None: an example's time includes amtool's, and a loaded machine must not fail a
# run on timing. Hangs are caught by `bounded` instead.
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Hang(BaseException):
    """Raised by the alarm. A BaseException, so no `except Exception` in the code under test
    can turn a hang into an ordinary error."""


@contextmanager
def bounded(seconds: float = HANG_SECONDS, memory: int = MEMORY_BYTES) -> Iterator[None]:
    """Fail the block if it runs longer than `seconds` or its allocations peak above `memory`."""
    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds:.0f}s: a hang")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    tracing_already = tracemalloc.is_tracing()  # python -X tracemalloc: leave it on
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        peak = tracemalloc.get_traced_memory()[1] - before
        if not tracing_already:
            tracemalloc.stop()
    assert peak < memory, f"allocated {peak:,} bytes at the peak, more than the {memory:,} allowed"


_amtool_verdicts: dict[str, str] = {}


def amtool_refusal(amtool: str, text: str) -> str:
    """What `amtool check-config` says against `text`, or "" when it accepts it."""
    if text not in _amtool_verdicts:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".yml") as candidate:
            candidate.write(text)
            candidate.flush()
            result = subprocess.run([amtool, "check-config", candidate.name], capture_output=True, text=True,
                                    timeout=60)
        _amtool_verdicts[text] = "" if result.returncode == 0 else (result.stdout + result.stderr).strip()
    return _amtool_verdicts[text]


ROUTING_BUDGET = {"renders": 15}
"""How many accepted specs per test run also get their routing compared (each costs about
ten `amtool config routes test` calls); the rest get `check-config` only."""
ROUTING_BASE = BASES["nested, continue at every level, legacy match"]
_base_answers: dict[str, tuple[str, ...]] = {}


def routing_meaning(amtool: str, specs, base: str = ROUTING_BASE, sets_per_render: int = 10) -> None:
    """The differential half: what Alertmanager makes of the render (`amtool config routes
    test`) for label sets drawn from every matcher must be what the specs and the base say:
    the base's receivers exactly as the base alone reaches them, after exactly the lists whose
    matchers match."""
    text = render_alertmanager_config(specs, base)
    assert not amtool_refusal(amtool, text), amtool_refusal(amtool, text)
    lists = [(PREFIX + item.name, tuple(item.matchers)) for item in (specs.lists if specs.email_enabled else ())]
    every_matcher = matchers_of_config(base) + [m for _, matchers in lists for m in matchers]
    sets = label_sets(every_matcher, limit=sets_per_render)
    check_routing(amtool, base, text, lists, sets, _base_answers if base == ROUTING_BASE else None)


def outcome(files: dict[str, bytes], amtool: str, routing: bool = False) -> str:
    """"rejected" with every error located in one of `files`, or "accepted" with a render
    amtool accepts (and, with `routing` and while the budget lasts, whose routing means what
    the specs say)."""
    with bounded():
        try:
            specs = parse_specs(files)
        except SpecErrors as exc:
            errors = exc.errors
        else:
            errors = []
            text = render_alertmanager_config(specs, options=RenderOptions())
    if errors:
        for error in errors:
            if error.file == ".":
                # The one error of the folder itself, when no file held a spec document: nothing to locate.
                assert [str(e) for e in errors] == [str(error)] and "no EmailServer and no RecipientList" in str(error)
                continue
            assert error.file in files and error.line >= 1 and error.column >= 1, str(error)
            assert str(error).startswith(f"{error.file}:{error.line}:{error.column}: ")
        return "rejected"
    refusal = amtool_refusal(amtool, text)
    assert not refusal, f"validation accepted the specs but amtool refused the render:\n{refusal}\n{text}"
    if routing and ROUTING_BUDGET["renders"] > 0 and text not in _routed:
        ROUTING_BUDGET["renders"] -= 1
        _routed.add(text)
        routing_meaning(amtool, specs)
    return "accepted"


_routed: set[str] = set()


# -- near-valid specs: a valid repo with one field given a hostile value --------------------------
#
# Each field draws from values that are odd but allowed (unicode, the longest, the edges) and
# from values that are not; about half the repos are accepted and so reach amtool.

# What a YAML stream may hold: no C0/C1 controls, no surrogates, no U+FFFE/U+FFFF.
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff")
ODD_BUT_FINE = st.one_of(st.text(PRINTABLE, min_size=1, max_size=40), st.text(PRINTABLE, min_size=200, max_size=1_000),
                         st.sampled_from(["ünïcødé", "🚨 pager", "\u202eevil", "{{ .Status }}", "$HOME", "%s", "null",
                                          "~", "- x", "*alias", "&anchor", "!!python/name:os.system", "<b>", "a,b",
                                          "#c", "'", " padded ", "\u00a0", "\u2028"]))
ODD_TEXT = st.one_of(st.text(max_size=30), st.sampled_from(["", " ", "\t", "a\nb", "a\r\nBcc: x@y.z", "\x85", "\x00",
                                                             "\x93", "\ufffe", '"', "\\", "{{", "}}"]))
"""Strings most fields refuse: control characters, line breaks, empty."""
LABEL = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
UNITS = {"y": 400, "w": 20_000, "d": 150_000, "h": 3_000_000, "m": 200_000_000, "s": 10**10, "ms": 10**13}
"""The largest number drawn per unit: each alone reaches past the 292 years Alertmanager can hold."""


@st.composite
def durations(draw) -> str:
    """A duration in Alertmanager's syntax (largest unit first), leading zeros and all."""
    units = draw(st.lists(st.sampled_from(list(UNITS)), min_size=1, max_size=7, unique=True))
    parts = []
    for unit in sorted(units, key=list(UNITS).index):
        number = draw(st.integers(0, UNITS[unit]))
        parts.append(f"{number:0{draw(st.integers(1, 4))}d}{unit}")
    return "".join(parts)


DURATIONS = st.one_of(
    durations(),
    st.sampled_from(["0", "0s", "00ms", "1ms", "1y", "99y", "292y", "293y", "292y24w3d23h47m16s854ms",
                     "292y24w3d23h47m16s855ms", "2562047h", "2562048h", "9223372036854775807ms", "1h30m", "12 hours", "-5m", "1.5h", "5M", "5m ", "\n5m",
                     "1m1h", "1y1y", "１h", "٣m", "", "ms", "y"]),
    st.integers(-10, 10**12), st.none(), ODD_TEXT)


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


MATCHER = st.builds(lambda label, space, op, value: f"{space}{label}{space}{op}{space}{quoted(value)}{space}",
                    LABEL, st.sampled_from(["", " ", "  "]), st.sampled_from(["=", "!=", "=~", "!~"]),
                    st.one_of(st.text(PRINTABLE, max_size=40), st.text(PRINTABLE, min_size=500, max_size=1_000),
                              st.sampled_from([".*", "(a|b)", "db|web", "\\pL+", "[", "(?=x)", "a{1000}", "a{1001}",
                                               "\\d+", "}", "{", ",", "\\", "\n", "\t", "\x00"])))
MATCHERS = st.one_of(st.lists(MATCHER, max_size=5), st.lists(MATCHER, min_size=50, max_size=51),
                     st.lists(ODD_TEXT, min_size=1, max_size=2), ODD_TEXT)
GROUP_BY = st.one_of(st.just(["..."]), st.lists(LABEL, max_size=5, unique=True), st.lists(LABEL, min_size=50,
                                                                                           max_size=60, unique=True),
                     st.sampled_from([[], ["a", "a"], ["1x"], ["a b"], [""], ["…"], ["...", "..."], "alertname",
                                      ["...", "alertname"], ["cluster", "..."]]),
                     ODD_TEXT)
LOCAL = st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`|~.-]{1,64}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?){1,3}",
                       fullmatch=True)
GOOD_ADDRESS = st.one_of(st.builds("{}@{}".format, LOCAL, DOMAIN),
                         st.just("x" * 64 + "@" + "y" * 63 + "." + "y" * 63 + "." + "y" * 61))  # 254, the longest
ADDRESS = st.one_of(GOOD_ADDRESS, ODD_TEXT, st.sampled_from(["a@b", "a@@b.c", "a@-b.c", "a b@c.d", "ä@b.c",
                                                            "a@b.c\n", "<a@b.c>", "A <a@b.c>", "a@[1.2.3.4]"]))
DISPLAY_NAME = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                                     blacklist_characters='{}"\\\ufffe\uffff'), min_size=1, max_size=100)
RECIPIENT = st.one_of(GOOD_ADDRESS, st.fixed_dictionaries({"email": GOOD_ADDRESS}, optional={"name": DISPLAY_NAME}))
RECIPIENTS = st.one_of(
    st.lists(RECIPIENT, min_size=1, max_size=5, unique_by=lambda r: (r["email"] if isinstance(r, dict) else r).lower()),
    st.lists(RECIPIENT, min_size=48, max_size=51,
             unique_by=lambda r: (r["email"] if isinstance(r, dict) else r).lower()),
    st.builds(lambda n: [f"oncall{i:02d}@example.com" for i in range(n)], st.sampled_from([0, 1, 49, 50, 51])),
    st.lists(st.one_of(ADDRESS, st.fixed_dictionaries({"email": ADDRESS}, optional={"name": ODD_TEXT})),
             min_size=1, max_size=3),
    st.sampled_from([["a@example.com", "A@EXAMPLE.COM"], [{"name": "x"}], [None], [[]], {}]), ODD_TEXT)
NAME = st.one_of(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True),
                 st.sampled_from(["a" * 63, "a" * 64, "0", "-a", "a-", "A", "a_b", "a.b", "notify-reconciler", "ünï",
                                  "discard"]),
                 ODD_TEXT)
HOST = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,20}){0,3}\.?",
                               fullmatch=True),
                 st.sampled_from(["::1", "[::1]", "127.0.0.1", "[127.0.0.1]", "fe80::1%eth0", ":::.", "a" * 63,
                                  ".".join(["a" * 63] * 4), "smtp.example.com:25", "smtp://smtp.example.com",
                                  "smtp.exämple.com", "-x"]), ODD_TEXT)
TRANSPORT = st.one_of(
    st.builds(lambda port: {"port": port}, st.integers(1, 65535).filter(lambda port: port != 465)),
    st.builds(lambda port, starttls: {"port": port, "starttls": starttls}, st.integers(1, 65535), st.booleans()),
    st.sampled_from([{"port": 465, "ssl": True}, {"port": 465, "ssl": True, "starttls": False},
                     {"port": 465, "ssl": True, "starttls": True}, {"port": 587, "ssl": True}, {"port": 465},
                     {"port": 0}, {"port": 65536}, {"port": -25}, {"port": "25"}, {"port": 25.0}, {"port": 25.5},
                     {"port": True}, {"ssl": "yes"}, {"starttls": 0}, {"port": None}]))
TLS = st.one_of(st.fixed_dictionaries({}, optional={
    "caFile": st.one_of(st.builds("/{}".format, ODD_BUT_FINE), ODD_BUT_FINE),
    "serverName": st.one_of(HOST, ODD_BUT_FINE),
    "insecureSkipVerify": st.booleans()}), st.sampled_from([{"caFile": ""}, {"insecureSkipVerify": "yes"},
                                                            {"ca": "x"}, [], "x", None]))
AUTH = st.one_of(
    st.builds(lambda username, password: {"username": username, **password}, ODD_BUT_FINE, st.one_of(
        st.builds(lambda path: {"passwordFile": path}, st.builds("/{}".format, ODD_BUT_FINE)),
        st.builds(lambda name: {"passwordEnv": name}, LABEL), st.just({}))),
    st.fixed_dictionaries({}, optional={"username": ODD_TEXT, "passwordFile": ODD_TEXT, "passwordEnv": ODD_TEXT}),
    st.sampled_from([{"password": "hunter2"}, {"username": "u", "password": ""}, {"passwordFile": "/pw"},
                     {"username": "u", "passwordFile": "relative/pw"}, {"username": "u", "passwordEnv": "1X"}]))
METADATA = st.fixed_dictionaries({"name": NAME}, optional={
    "labels": st.dictionaries(st.one_of(ODD_BUT_FINE, ODD_TEXT), ODD_BUT_FINE, max_size=3),
    "annotations": st.dictionaries(st.one_of(ODD_BUT_FINE, ODD_TEXT), ODD_BUT_FINE, max_size=3)})
ROUTING = {"repeatInterval": DURATIONS, "groupWait": DURATIONS, "groupInterval": DURATIONS, "groupBy": GROUP_BY,
           "sendResolved": st.one_of(st.booleans(), st.sampled_from(["yes", "true", 1, None]))}


def spec_field(key: str, values: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.builds(lambda value: {key: value}, values)


# (kind, how it changes one document of that kind: keys of its spec, or its metadata)
MUTATIONS = [
    ("EmailServer", spec_field("host", HOST)),
    ("EmailServer", TRANSPORT),
    ("EmailServer", spec_field("tls", TLS)),
    ("EmailServer", AUTH),
    ("EmailServer", spec_field("from", ADDRESS)),
    ("EmailServer", spec_field("hello", st.one_of(st.from_regex(r"[A-Za-z0-9.:\[\]_-]{1,253}", fullmatch=True),
                                             ODD_TEXT))),
    ("EmailServer", spec_field("enabled", st.one_of(st.booleans(), st.sampled_from(["false", "no", 0, None])))),
    ("RecipientList", spec_field("recipients", RECIPIENTS)),
    ("RecipientList", spec_field("matchers", MATCHERS)),
    *(("RecipientList", spec_field(key, values)) for key, values in ROUTING.items()),
    *(("NotificationPolicy", spec_field(key, values)) for key, values in ROUTING.items()),
    *((kind, spec_field("metadata", METADATA)) for kind in ("EmailServer", "RecipientList", "NotificationPolicy")),
    *((kind, st.builds(lambda key, value: {key: value}, st.one_of(ODD_TEXT, st.sampled_from(FIELDS)), ODD_BUT_FINE))
      for kind in ("EmailServer", "RecipientList", "NotificationPolicy")),
]
"""The last rows add a key: an unknown one, or one that belongs to another kind."""


def document(kind: str, name: str, spec: dict) -> dict:
    return {"apiVersion": "notify-reconciler/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def valid_repo() -> dict[str, list[dict]]:
    return {
        "server.yaml": [
            document("EmailServer", "smtp", {"host": "smtp.example.com", "port": 587, "from": "alerts@example.com"}),
            document("NotificationPolicy", "default", {"repeatInterval": "4h", "groupBy": ["alertname"],
                                                       "groupWait": "30s", "groupInterval": "5m"})],
        "lists/db.yaml": [document("RecipientList", "db", {"recipients": [
            "dba@example.com", {"name": "DB on-call", "email": "db-oncall@example.com"}],
            "matchers": ['team="db"']})],
        "lists/ops.yml": [document("RecipientList", "ops", {"recipients": ["ops@example.com"]})],
    }


def files_of(repo: dict[str, list[dict]]) -> dict[str, bytes]:
    # JSON is YAML. Unescaped, so the loader sees the characters themselves.
    return {name: "\n---\n".join(json.dumps(doc, ensure_ascii=False) for doc in docs).encode("utf-8", "surrogatepass")
            for name, docs in repo.items()}


def repo_with(kind: str, change: dict, index: int = 0) -> dict[str, bytes]:
    """The valid repo with `change` (keys of a spec, or metadata) made to its `index`th `kind`."""
    repo = valid_repo()
    target = [doc for docs in repo.values() for doc in docs if doc["kind"] == kind][index]
    for key, value in change.items():
        (target if key == "metadata" else target["spec"])[key] = value
    return files_of(repo)


@st.composite
def near_valid_repos(draw) -> dict[str, bytes]:
    kind, change = draw(st.sampled_from(MUTATIONS))
    return repo_with(kind, draw(change), draw(st.integers(0, 1 if kind == "RecipientList" else 0)))
