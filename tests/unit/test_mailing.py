"""mailing: what changes for people between two renders, over pairs of spec folders.

Each case edits examples/config-repo (rendered into examples/alertmanager-base.yml) and
expects the exact summary lines `diff` prints before the YAML."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from reconciler.core.audience import CHANGES, NO_CHANGE, read_mailing, summary_lines
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import RenderOptions, render_alertmanager_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = {path.name: path.read_text() for path in (ROOT / "examples" / "config-repo").glob("*.yaml")}
BASE = (ROOT / "examples" / "alertmanager-base.yml").read_text()
OPTIONS = RenderOptions(secrets_dir="/var/lib/nr/secrets")
SERVER = ("smtp.example.com:587", "STARTTLS required", "alertmanager@example.com")


def render(files: dict[str, str], base: str | None = BASE) -> str:
    return _render(tuple(sorted(files.items())), base)


@functools.lru_cache(maxsize=None)
def _render(files: tuple[tuple[str, str], ...], base: str | None) -> str:
    """Cached: most cases compare with the example folder as it is."""
    specs = parse_specs({name: text.encode() for name, text in files})
    return render_alertmanager_config(specs, base, options=OPTIONS)


def edited(*edits: tuple[str, str, str]) -> dict[str, str]:
    """The example folder with (file, old, new) replacements; a file whose new text is the
    whole file replaces it (or adds it); old None removes it."""
    files = dict(EXAMPLE)
    for name, old, new in edits:
        if old is None:
            del files[name]
        elif old == "":
            files[name] = new
        else:
            assert old in files[name], f"{old!r} not in {name}"
            files[name] = files[name].replace(old, new)
    return files


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines = summary_lines(render(before), render(after))
    assert lines[0] == CHANGES, lines
    return [line.removeprefix("  ") for line in lines[1:]]


def web_list(*addresses: str, extra: str = "") -> str:
    return ("apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: web}\nspec:\n"
            f"  recipients: [{', '.join(addresses)}]\n{extra}")


@pytest.mark.parametrize("edits, expected", [
    pytest.param([("team-db.yaml", "    - dba-lead@example.com\n",
                   "    - dba-lead@example.com\n    - a@example.com\n    - b@example.com\n"),
                  ("team-db.yaml", "repeatInterval: 4h", "repeatInterval: 2h")],
                 ["list team-db: +2 recipients (a@example.com, b@example.com); repeat 4h -> 2h"],
                 id="recipients-and-repeat"),
    pytest.param([("team-db.yaml", "    - dba-lead@example.com\n", "")],
                 ["list team-db: -1 recipient (dba-lead@example.com)"], id="recipient-removed"),
    pytest.param([("team-db.yaml", 'severity="critical"', 'severity=~"critical|warning"')],
                 ['list team-db: takes {severity="critical", team=~"db|storage"} -> '
                  '{severity=~"critical|warning", team=~"db|storage"}'], id="matcher-changed"),
    pytest.param([("platform-oncall.yaml", "matchers: ['alertname!=\"Watchdog\"']",
                   "matchers: ['alertname!=\"Watchdog\"', 'severity=\"critical\"']")],
                 ['list platform-oncall: takes {alertname!="Watchdog"} -> {alertname!="Watchdog", '
                  'severity="critical"} (narrower: fewer alerts)'], id="matcher-added"),
    pytest.param([("platform-oncall.yaml", "  matchers: ['alertname!=\"Watchdog\"']\n", "")],
                 ['list platform-oncall: takes {alertname!="Watchdog"} -> every alert (wider: more alerts)'],
                 id="matchers-removed"),
    pytest.param([("web.yaml", "", web_list("web@example.com", "web-lead@example.com"))],
                 ["list web: new: mails web@example.com, web-lead@example.com; takes every alert; repeat 12h"],
                 id="list-added"),
    pytest.param([("team-db.yaml", None, None)],
                 ["list team-db: gone: dba-lead@example.com, db-oncall@example.com no longer mailed "
                  '(it took {severity="critical", team=~"db|storage"})'], id="list-removed"),
    pytest.param([("team-db.yaml", "groupWait: 10s", "groupWait: 1m\n  groupInterval: 10m\n  sendResolved: false\n"
                                                     "  groupBy: [alertname]")],
                 ["list team-db: group wait 10s -> 1m; group interval 5m -> 10m; grouped by alertname, namespace -> "
                  "alertname; resolved mails on -> off"], id="timing-grouping-resolved"),
    pytest.param([("notification-policy.yaml", "repeatInterval: 12h", "repeatInterval: 1d")],
                 ["list platform-oncall: repeat 12h -> 1d"], id="policy-reaches-lists-without-their-own"),
    pytest.param([("team-db.yaml", "repeatInterval: 4h", "repeatInterval: 4h\n  delivery: perRecipient")],
                 ["list team-db: delivery one message to all -> one message each"], id="delivery"),
    pytest.param([("email-server.yaml", "enabled: true", "enabled: false")],
                 ["e-mail: on -> off (EmailServer enabled: false): no RecipientList is mailed",
                  "list platform-oncall: gone: oncall-primary@example.com, oncall-secondary@example.com, "
                  'platform@example.com no longer mailed (it took {alertname!="Watchdog"})',
                  "list team-db: gone: dba-lead@example.com, db-oncall@example.com no longer mailed "
                  '(it took {severity="critical", team=~"db|storage"})'], id="email-off"),
    pytest.param([("email-server.yaml", "host: smtp.example.com", "host: smtp2.example.com"),
                  ("email-server.yaml", "port: 587", "port: 465"),
                  ("email-server.yaml", "starttls: true", "ssl: true"),
                  ("email-server.yaml", "from: alertmanager@example.com", "from: alerts@example.com"),
                  ("email-server.yaml", "username: alertmanager@example.com", "username: alerts"),
                  ("email-server.yaml", "passwordFile: /etc/alertmanager/smtp-password", "passwordEnv: SMTP_PASSWORD")],
                 ["SMTP server: address smtp.example.com:587 -> smtp2.example.com:465; TLS STARTTLS required -> "
                  "implicit TLS; sender alertmanager@example.com -> alerts@example.com; login "
                  "alertmanager@example.com -> alerts; password from file /etc/alertmanager/smtp-password -> from "
                  "file /var/lib/nr/secrets/smtp-password-corporate-smtp"], id="smtp-server"),
    pytest.param([("email-server.yaml", "  enabled: true", "  enabled: true\n  tls: {caFile: /etc/ssl/corp.pem, "
                                                            "insecureSkipVerify: true}")],
                 ["SMTP server: CA file system CAs -> /etc/ssl/corp.pem; certificate check on -> skipped"],
                 id="smtp-tls"),
])
def test_summary_says_what_changes_for_people(edits, expected):
    assert changes(EXAMPLE, edited(*edits)) == expected


def test_turning_email_back_on_says_so_and_lists_who_is_mailed_again():
    off = edited(("email-server.yaml", "enabled: true", "enabled: false"))
    lines = changes(off, EXAMPLE)
    assert lines[0] == "e-mail: off -> on"
    assert [line.split(": new: ")[0] for line in lines[1:]] == ["list platform-oncall", "list team-db"]


@pytest.mark.parametrize("edits", [
    pytest.param([("team-db.yaml", "name: Database on-call", "name: DB on-call")], id="display-name"),
    pytest.param([("team-db.yaml", "dba-lead@example.com", "DBA-Lead@Example.com")], id="address-case"),
    pytest.param([("team-db.yaml", "repeatInterval: 4h", "repeatInterval: 240m")], id="same-duration"),
    pytest.param([("team-db.yaml", 'team=~"db|storage"', 'team =~ "db|storage"')], id="same-matcher-respelled"),
])
def test_a_yaml_change_that_mails_nobody_differently_says_no_change(edits):
    before, after = render(EXAMPLE), render(edited(*edits))
    assert before != after  # the YAML diff is not empty...
    assert summary_lines(before, after) == [  # ...but nobody gains or loses mail
        f"{NO_CHANGE}: same lists, recipients, matchers, timing and SMTP server; the changes are elsewhere"]


def test_the_first_render_into_a_base_changes_nothing_for_the_bases_receivers():
    """The render moves the base's routes under one route to its root receiver: no change
    for chat-ops or deadmans-switch. Only the lists and the server are new."""
    lines = summary_lines(BASE, render(EXAMPLE))
    assert lines[0] == CHANGES
    assert [line.split(": ")[0].strip() for line in lines[1:]] == ["list platform-oncall", "list team-db",
                                                                   "SMTP server"]
    assert lines[3] == ("  SMTP server: new: address smtp.example.com:587; TLS STARTTLS required; sender "
                        "alertmanager@example.com; EHLO name localhost; login alertmanager@example.com; password "
                        "from file /etc/alertmanager/smtp-password")


def test_base_receivers_are_named_when_their_routing_changes():
    base = BASE.replace('matchers: [alertname="Watchdog"]', 'matchers: [alertname=~"Watchdog|Heartbeat"]')
    base = base.replace("receivers:\n", "receivers:\n  - name: pager\n").replace(
        "      repeat_interval: 1m\n", "      repeat_interval: 1m\n    - receiver: pager\n"
                                      "      matchers: [severity=\"page\"]\n")
    assert summary_lines(render(EXAMPLE), render(EXAMPLE, base)) == [
        CHANGES,
        "  base receiver deadmans-switch: its routes changed (which alerts it gets, or when, may differ)",
        "  base receiver pager: newly routed"]
    assert summary_lines(render(EXAMPLE, base), render(EXAMPLE))[1:] == [
        "  base receiver deadmans-switch: its routes changed (which alerts it gets, or when, may differ)",
        "  base receiver pager: no longer routed (it gets no alert)"]


def test_nothing_live_yet_makes_every_list_new():
    lines = summary_lines(None, render(EXAMPLE, base=None))
    assert lines[:3] == [CHANGES,
                         "  list platform-oncall: new: mails oncall-primary@example.com, oncall-secondary@example.com, "
                         'platform@example.com; takes {alertname!="Watchdog"}; repeat 12h',
                         "  list team-db: new: mails dba-lead@example.com, db-oncall@example.com; takes "
                         '{severity="critical", team=~"db|storage"}; repeat 4h']


@pytest.mark.parametrize("live", ["route: [not, a, mapping]\n", "receivers: []\n", "- a list\n", "key: [unclosed\n"])
def test_a_live_config_that_cannot_be_read_says_so_instead_of_failing(live):
    lines = summary_lines(live, render(EXAMPLE), before_name="/etc/alertmanager/alertmanager.yml")
    assert len(lines) == 1
    assert lines[0].startswith("who is mailed: cannot tell, /etc/alertmanager/alertmanager.yml cannot be read as an "
                               "Alertmanager config: ")


def test_a_password_in_the_live_config_is_described_never_shown():
    live = render(EXAMPLE).replace("smtp_auth_password_file: /etc/alertmanager/smtp-password",
                                   "smtp_auth_password: Hunter2-secret")
    lines = summary_lines(live, render(EXAMPLE))
    assert lines[1:] == ["  SMTP server: password in the config -> from file /etc/alertmanager/smtp-password"]
    assert "Hunter2" not in "\n".join(lines)
    assert "Hunter2" not in repr(read_mailing(live))  # not even kept


WINDOWS = """time_intervals:
- name: business-hours
  time_intervals:
  - weekdays: ['monday:friday']
    times: [{start_time: '09:00', end_time: '17:00'}]
    months: ['january:march']
    location: Europe/Berlin
"""


def with_window(config: str, list_name: str, key: str, window: str = WINDOWS) -> str:
    """A render with a time window on one list's route, as a TimeWindow will render."""
    route = f"    - receiver: notify-reconciler/{list_name}\n"
    assert route in config
    return config.replace(route, f"{route}      {key}: [business-hours]\n") + window


def test_time_windows_of_a_list_and_changes_of_their_times_are_named():
    plain = render(EXAMPLE)
    active = with_window(plain, "team-db", "active_time_intervals")
    assert summary_lines(plain, active)[1:] == ["  list team-db: active during always -> business-hours"]
    muted = with_window(plain, "platform-oncall", "mute_time_intervals")
    assert summary_lines(plain, muted)[1:] == ["  list platform-oncall: muted during never -> business-hours"]
    longer = with_window(plain, "team-db", "active_time_intervals", WINDOWS.replace("17:00", "19:00"))
    assert summary_lines(active, longer)[1:] == [
        "  time window business-hours: times changed, for list team-db (active during)"]
    # Alertmanager's own view writes months as numbers and keys in its order: no change.
    respelled = with_window(plain, "team-db", "active_time_intervals", WINDOWS.replace("january:march", "1:3"))
    assert summary_lines(active, respelled)[0].startswith(NO_CHANGE)


def test_a_time_window_of_ours_is_named_as_its_timewindow_is():
    window = ("apiVersion: notify-reconciler/v1\nkind: TimeWindow\nmetadata: {name: business-hours}\n"
              "spec: {location: Europe/Berlin, weekdays: ['monday:friday'], times: [{start: '09:00', end: '17:00'}]}\n")
    windowed = {name: (text + "  activeDuring: [business-hours]\n" if "name: team-db" in text else text)
                for name, text in EXAMPLE.items()}
    before = render({**windowed, "window.yaml": window})
    after = render({**windowed, "window.yaml": window.replace("17:00", "18:00")})
    assert summary_lines(render(EXAMPLE), before)[1:] == ["  list team-db: active during always -> business-hours"]
    assert summary_lines(before, after)[1:] == [
        "  time window business-hours: times changed, for list team-db (active during)"]


def test_a_changed_template_file_is_named_by_its_path_and_version_not_its_carried_name():
    from reconciler.specs.templates import carried_name

    files = {**{name: text.encode() for name, text in EXAMPLE.items()},
             "web.yaml": web_list("web@example.com", extra="  templates: {html: t/body.html.tmpl}\n").encode()}
    # A body outside any define block: the render names the file's carried template itself.
    old, new = b"<p>{{ .Status }}: one</p>", b"<p>{{ .Status }}: two</p>"

    def rendered(body: bytes) -> str:
        specs = parse_specs(files, templates={"t/body.html.tmpl": body})
        return render_alertmanager_config(specs, BASE, options=OPTIONS)

    versions = [carried_name("t/body.html.tmpl", body).removesuffix(".tmpl")[-12:][:7] for body in (old, new)]
    assert summary_lines(rendered(old), rendered(new))[1:] == [
        f"  list web: html body t-body.html.tmpl (version {versions[0]}) -> t-body.html.tmpl (version {versions[1]})"]
