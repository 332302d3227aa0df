"""Every render the tests can think of passes the real `amtool check-config`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli.main import main
from reconciler.specs.pipeline import parse_specs
from reconciler.io.deploy import CheckedParts, check_context, check_rendered, part_digest
from reconciler.errors import DeployError, SpecErrors
from reconciler.core.render import RenderOptions, render_alertmanager_config, render_config

from tests.support.gitrepo import document, recipient_list, server


pytestmark = pytest.mark.alertmanager

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config-repo"
BASE = (ROOT / "examples" / "alertmanager-base.yml").read_text()
OPTIONS = RenderOptions()


def check(amtool: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, f"amtool refused:\n{result.stdout}{result.stderr}\n{text}"


def fifty(name: str = "big") -> str:
    return recipient_list(name, [f"oncall{n:02d}@example.com" for n in range(50)])


CASES = {
    "minimal": [server(), recipient_list("ops", ["a@example.com"])],
    "e-mail off, no lists": [server(enabled="false")],
    "disabled": [server(enabled="false"), recipient_list("ops", ["a@example.com"])],
    "smtps on 465 with CA and server name": [
        document("EmailServer", "smtp", "host: smtp.example.com\nport: 465\nssl: true\nfrom: a@example.com\n"
                                        "username: u\npasswordFile: /etc/am/pw\ntls:\n  caFile: /etc/ssl/ca.pem\n"
                                        "  serverName: mail.example.com\n"),
        recipient_list("ops", ["a@example.com"])],
    "starttls, insecure skip verify spelled out": [
        document("EmailServer", "smtp", "host: smtp.example.com\nport: 587\nfrom: a@example.com\n"
                                        "tls:\n  insecureSkipVerify: true\n"),
        recipient_list("ops", ["a@example.com"])],
    "passwordEnv": [
        document("EmailServer", "smtp", "host: smtp.example.com\nport: 587\nfrom: a@example.com\n"
                                        "username: u\npasswordEnv: SMTP_PASSWORD\n"),
        recipient_list("ops", ["a@example.com"])],
    "ipv6 host": [document("EmailServer", "smtp", "host: '::1'\nport: 2525\nstarttls: false\nfrom: a@example.com\n"),
                  recipient_list("ops", ["a@example.com"])],
    "bracketed ipv6 host": [document("EmailServer", "smtp", "host: '[::1]'\nport: 2525\nstarttls: false\n"
                                                             "from: a@example.com\n"),
                            recipient_list("ops", ["a@example.com"])],
    "fifty recipients and names": [server(), fifty(),
                                   document("RecipientList", "named", "recipients:\n  - {name: Jürgen Ops, "
                                                                      "email: j@example.com}\n  - {name: "
                                                                      "Ops Lead, email: l@example.com}\n")],
    "every override and matcher kind": [
        server(),
        document("NotificationPolicy", "p", "repeatInterval: 1d\ngroupBy: ['...']\ngroupWait: 0s\n"
                                            "groupInterval: 1h30m\nsendResolved: false\n"),
        recipient_list("db", ["d@example.com"], matchers="['severity=\"critical\"', 'team=~\"db|web\"', "
                                                         "'env!=\"dev\"', 'service!~\"test-.*\"']",
                       repeatInterval="1w", groupBy="[alertname, cluster]", groupWait="10s",
                       groupInterval="5m", sendResolved="true")],
    "time windows, active and muted, every field": [
        server(),
        recipient_list("office", ["o@example.com"], activeDuring="[business-hours, weekend]",
                       mutedDuring="[freeze, nights]"),
        document("TimeWindow", "business-hours", "location: Europe/Berlin\nweekdays: ['Monday:Friday']\ntimes: "
                                                 "[{start: '09:00', end: '12:30'}, {start: '13:30', end: '17:00'}]\n"),
        document("TimeWindow", "weekend", "location: Pacific/Kiritimati\nweekdays: [saturday, sunday]\n"),
        document("TimeWindow", "freeze", "location: Etc/GMT+5\ndaysOfMonth: [1, '-7:-1', '25:-3', '+3']\n"
                                         "months: ['november:december', 5, MAY]\nyears: [2026, '2027:2030']\n"),
        document("TimeWindow", "nights", "location: UTC\ntimes: [{start: '22:00', end: '24:00'}, "
                                         "{start: '00:00', end: '06:00'}]\n")],
}


FLOW_BASE = "route: {receiver: web, group_by: [alertname]}\nreceivers: [{name: web}]\n"


@pytest.mark.parametrize("base", [None, BASE, FLOW_BASE], ids=["no base", "example base", "flow-style base"])
@pytest.mark.parametrize("case", list(CASES))
def test_render_passes_amtool(amtool, tmp_path, case, base):
    documents = CASES[case]
    specs = parse_specs({f"{i}.yaml": d.encode() for i, d in enumerate(documents)})
    check(amtool, render_alertmanager_config(specs, base, options=OPTIONS), tmp_path)


def test_example_repo_renders_into_the_example_base_and_passes_amtool(amtool, tmp_path):
    out = tmp_path / "out.yml"
    assert main(["render", str(EXAMPLE), "--base", str(ROOT / "examples" / "alertmanager-base.yml"),
                 "-o", str(out)]) == 0
    check(amtool, out.read_text(), tmp_path)


def test_secret_format_holds_a_config_amtool_accepts(amtool, tmp_path, capsys):
    assert main(["render", str(EXAMPLE), "--format", "secret"]) == 0
    secret = YAML(typ="safe").load(capsys.readouterr().out)
    check(amtool, secret["stringData"]["alertmanager.yaml"], tmp_path)


def test_amtool_really_refuses_a_broken_config(amtool, tmp_path):
    """The check above can fail: amtool does refuse what Alertmanager would."""
    with pytest.raises(AssertionError, match="amtool refused"):
        check(amtool, "route: {receiver: missing}\nreceivers: []\n", tmp_path)


def test_incremental_check_sends_amtool_only_what_changed_and_still_catches_it(amtool):
    import dataclasses

    specs = parse_specs({f"{i}.yaml": d.encode() for i, d in enumerate(
        [server(), recipient_list("ops", ["o@example.com"]), recipient_list("db", ["d@example.com"])])})
    rendered = render_config(specs, BASE, options=OPTIONS)
    checked = CheckedParts()
    check_rendered(rendered, checked)  # the first check sees the whole text
    assert checked.accepted_in(check_context(rendered)) == frozenset(map(part_digest, rendered.lists))

    good, db = rendered.lists
    broken = (db[0], db[1].replace("email_configs:", "email_configz:"))  # a field Alertmanager does not know
    bad = dataclasses.replace(rendered, lists=(good, broken), text=rendered.with_lists([good, broken]))
    with pytest.raises(DeployError, match="amtool check-config refused.*email_configz"):
        check_rendered(bad, checked)
    assert checked.lists == frozenset(map(part_digest, rendered.lists))  # a refusal is not remembered as accepted

    # Only what changed goes to amtool: a record that (wrongly) holds the broken part lets
    # it through, which shows the unchanged parts are not checked again...
    checked.accept(check_context(bad), frozenset({part_digest(good), part_digest(broken)}))
    check_rendered(bad, checked)
    # ...while a different skeleton (base, globals, root route) has the whole text checked.
    checked.accept(check_context(dataclasses.replace(bad, skeleton=bad.skeleton.replace("smtp_from", "smtp_x"))),
                   frozenset({part_digest(good), part_digest(broken)}))
    with pytest.raises(DeployError, match="email_configz"):
        check_rendered(bad, checked)


def test_an_email_list_takes_no_alert_away_from_the_base_routes_or_root_receiver(amtool, tmp_path):
    """What Alertmanager would do with an alert, asked of amtool itself (`config routes test`)."""
    specs = parse_specs({f"{i}.yaml": d.encode() for i, d in enumerate(
        [server(), recipient_list("all", ["a@example.com"]),
         recipient_list("db", ["d@example.com"], matchers="['team=\"db\"']")])})
    text = render_alertmanager_config(specs, BASE, options=OPTIONS)

    def receivers(config_text: str, *labels: str) -> set[str]:
        path = tmp_path / "routes.yml"
        path.write_text(config_text)
        result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}", *labels],
                                capture_output=True, text=True, timeout=60)
        return set(result.stdout.strip().split(","))

    # The example base: chat-ops gets what no route takes, the Watchdog goes to the switch only.
    assert receivers(text, "alertname=DiskFull") == {"notify-reconciler/all", "chat-ops"}
    assert receivers(text, "alertname=DiskFull", "team=db") == {"notify-reconciler/all", "notify-reconciler/db",
                                                                "chat-ops"}
    assert receivers(text, "alertname=Watchdog") == {"notify-reconciler/all", "deadmans-switch"}
    # The example's catch-all list leaves the Watchdog to the switch, as the README advises.
    example = render_alertmanager_config(parse_specs({p.name: p.read_bytes() for p in EXAMPLE.glob("*.yaml")}),
                                         BASE, options=OPTIONS)
    assert receivers(example, "alertname=Watchdog") == {"deadmans-switch"}
    assert receivers(example, "alertname=DiskFull") == {"notify-reconciler/platform-oncall", "chat-ops"}


@pytest.mark.parametrize("duration", ["292y", "293y", "106751d", "106752d", "2562047h", "2562048h",
                                      "9223372036854ms", "9223372036855ms", "292y1w", "100000000000000000000s"])
def test_validation_and_amtool_agree_on_the_longest_duration(amtool, tmp_path, duration):
    """Alertmanager holds durations as int64 nanoseconds: validate must refuse exactly what
    amtool would, with a located error, instead of a render amtool refuses at apply time."""
    files = {"s.yaml": server(), "o.yaml": recipient_list("ops", ["a@example.com"], repeatInterval=duration)}
    try:
        specs = parse_specs({name: text.encode() for name, text in files.items()})
    except SpecErrors as exc:
        assert [str(e) for e in exc.errors] == [f"o.yaml:8:19: spec.repeatInterval: {duration!r} is longer than "
                                                "Alertmanager can hold (292y, or 2562047h): use a shorter duration"]
        accepted = False
    else:
        accepted = True
    path = tmp_path / "alertmanager.yml"
    path.write_text(f"route: {{receiver: x, repeat_interval: {duration}}}\nreceivers: [{{name: x}}]\n")
    amtool_says = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert accepted == (amtool_says.returncode == 0), amtool_says.stdout
    if accepted:
        check(amtool, render_alertmanager_config(specs, options=OPTIONS), tmp_path)
