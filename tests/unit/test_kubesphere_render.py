"""The render for KubeSphere (reconciler.kubesphere.rendering) over generated spec folders:

- every object validates against notification-manager's own CRD schema (tests/data/kubesphere/crd,
  copies with their source and licence) for the version it names, in each release that serves it;
- the Receivers notification-manager would mail for an alert (its Go selector semantics, in
  reconciler.kubesphere.selector) are the lists Alertmanager's matchers pick;
- import(render(specs)) mails the same addresses for the same alerts.

The CRD's openAPIV3Schema is a Kubernetes structural schema, read here by jsonschema with its few
extensions translated: an object with `properties` and neither `additionalProperties` nor
`x-kubernetes-preserve-unknown-fields` gets `additionalProperties: false` (the API server would
prune an unknown field: for us a field that silently vanishes, so an error); `nullable` adds
"null" to the type; `format: int32`/`int64` become bounds; other `x-kubernetes-*` keys, which
only steer merging and listing, are dropped. `metadata` (only `type: object` in a CRD) is
checked as the API server checks it: a DNS-subdomain name, valid label keys and values."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.am.matchers import parse_matchers
from reconciler.errors import SpecErrors
from reconciler.kubesphere.importing import import_objects
from reconciler.kubesphere.objects import GROUP
from reconciler.kubesphere.rendering import render_kubesphere
from reconciler.kubesphere.selector import Requirement, Selector, key_problem, selects, value_problem
from reconciler.specs.pipeline import parse_specs

DATA = Path(__file__).resolve().parents[1] / "data" / "kubesphere"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "config-repo"
RELEASES = {"v2.4.0": ("v2beta1", "v2beta2"), "master": ("v2beta2",)}
KINDS = {"Config": "configs", "Receiver": "receivers"}
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def structural(schema):
    """A Kubernetes structural schema as JSON Schema (see the module docstring)."""
    if isinstance(schema, list):
        return [structural(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: structural(value) for key, value in schema.items() if not key.startswith("x-kubernetes-")
           and key not in ("nullable", "format")}
    if "properties" in out and "additionalProperties" not in out \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    bits = {"int32": 31, "int64": 63}.get(schema.get("format"))
    if bits:
        out["minimum"], out["maximum"] = -(2 ** bits), 2 ** bits - 1
    return out


@lru_cache(maxsize=None)
def validator(release: str, kind: str, version: str) -> jsonschema.Draft7Validator:
    crd = YAML(typ="safe").load((DATA / "crd" / release / f"notification.kubesphere.io_{KINDS[kind]}.yaml").read_text())
    served = {entry["name"]: entry for entry in crd["spec"]["versions"]}
    assert served[version]["served"], f"{release} does not serve {version}"
    return jsonschema.Draft7Validator(structural(served[version]["schema"]["openAPIV3Schema"]))


def metadata_problems(item) -> list[str]:
    metadata = item["metadata"]
    problems = []
    if not (len(metadata["name"]) <= 253 and _DNS_SUBDOMAIN.fullmatch(metadata["name"])):
        problems.append(f"name {metadata['name']!r}")
    for key, value in metadata.get("labels", {}).items():
        problems += filter(None, [key_problem(key), value_problem(value)])
    problems += filter(None, map(key_problem, metadata.get("annotations", {})))
    return problems


def crd_problems(item) -> list[str]:
    """Why the API server (the CRD of every release serving its version) refuses `item`."""
    if item["apiVersion"] == "v1":
        return metadata_problems(item)
    group, version = item["apiVersion"].split("/")
    assert group == GROUP
    problems = metadata_problems(item)
    for release, versions in RELEASES.items():
        if version in versions:
            problems += [f"{release}: {error.json_path}: {error.message}"
                         for error in validator(release, item["kind"], version).iter_errors(item)]
    return problems


# -- generated spec folders ------------------------------------------------------------------

LABELS = ["severity", "team", "alertname"]
VALUES = ["critical", "db", "Watchdog", "Disk Full", "a.b", ""]
MATCHERS = [f'{label}{op}"{value}"' for label in LABELS for op in ("=", "!=") for value in VALUES] + [
    'team=~"db|storage"', 'team=~"db.*"', 'severity=~"crit|"', 'alertname!~"Watchdog|Info"', 'team=~"(?i)DB"',
    'severity!~"|info"', '_hidden="x"', 'team!="x y"']
ADDRESSES = [f"user{number}@example.com" for number in range(8)]


@st.composite
def spec_folders(draw):
    port = draw(st.sampled_from([25, 465, 587, 2525]))
    ssl = port == 465
    server = [f"host: smtp.example.com", f"port: {port}", "from: alerts@example.com"]
    if ssl:
        server.append("ssl: true")
    else:
        server.append(f"starttls: {str(port != 465 and draw(st.booleans())).lower()}")
    if draw(st.booleans()):
        server += ["username: alerts@example.com", "passwordFile: /etc/notify-reconciler/smtp-password"]
    if draw(st.booleans()):
        server.append("tls: {insecureSkipVerify: true, serverName: mail.example.com}")
    if draw(st.booleans()):
        server.append("hello: reconciler.example.com")
    if draw(st.booleans()):
        server.append("enabled: false")
    files = {"server.yaml": "apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: smtp}\nspec:\n"
             + "".join(f"  {line}\n" for line in server)}
    for number in range(draw(st.integers(1, 3))):
        recipients = draw(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=4, unique=True))
        matchers = draw(st.lists(st.sampled_from(MATCHERS), max_size=3, unique=True))
        quoted = ", ".join("'" + m.replace("'", "''") + "'" for m in matchers)
        files[f"list{number}.yaml"] = (f"apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: "
                                       f"{{name: list-{number}}}\nspec:\n  recipients: [{', '.join(recipients)}]\n"
                                       f"  matchers: [{quoted}]\n")
    return {name: text.encode() for name, text in files.items()}


ALERTS = [dict(zip(keys, values)) for size in range(3) for keys in itertools.combinations(LABELS, size)
          for values in itertools.product([v for v in VALUES if v] + ["x y", "storage", "DB"], repeat=size)]


def mailed_by_specs(specs, labels) -> set[str]:
    """Whom Alertmanager's matchers of `specs` mail for an alert with `labels`."""
    if not specs.server.enabled:
        return set()
    return {recipient.email for item in specs.lists
            if all(m.matches(labels.get(m.name, "")) for entry in item.matchers for m in parse_matchers(entry))
            for recipient in item.recipients}


def mailed_by_objects(objects, labels, release="2.6") -> set[str]:
    """Whom notification-manager mails for an alert with `labels`: each enabled Receiver whose
    alertSelector selects it (Go's semantics)."""
    found = set()
    for item in objects:
        if item["kind"] != "Receiver" or not item["spec"]["email"]["enabled"]:
            continue
        written = item["spec"]["email"].get("alertSelector")
        selector = None if written is None else Selector(
            tuple(written.get("matchLabels", {}).items()),
            tuple(Requirement(e["key"], e["operator"], tuple(e.get("values", ())), e.get("regexValue", ""))
                  for e in written.get("matchExpressions", ())))
        if selects(selector, labels, release):
            found.update(item["spec"]["email"]["to"])
    return found


@settings(max_examples=150, deadline=None)
@given(spec_folders(), st.sampled_from(["v2beta2", "v2beta1"]))
def test_rendered_objects_pass_the_crd_and_mail_whom_the_specs_mail(files, api):
    specs = parse_specs(files)
    try:
        rendered = render_kubesphere(specs, api, password="pw")
    except SpecErrors as exc:
        # Refused only for a matcher no selector of this version can say, located at its list.
        for error in exc.errors:
            assert error.path.startswith("spec.matchers[") and error.file.startswith("list"), error
        return
    for item in rendered.objects:
        assert not crd_problems(item), (item, crd_problems(item))
    back = import_objects(rendered.text.encode(), "rendered.yaml")
    imported = parse_specs({path.removeprefix("specs/"): text.encode() for path, text in back.files.items()})
    releases = ["2.6"] if any("2.4 and 2.5" in warning for warning in rendered.warnings) else ["2.4", "2.6"]
    for labels in ALERTS:
        expected = mailed_by_specs(specs, labels)
        for release in releases:
            assert mailed_by_objects(rendered.objects, labels, release) == expected, (labels, release, rendered.text)
        assert mailed_by_specs(imported, labels) == expected, (labels, rendered.text, back.files)
    assert "pw" not in "".join(back.files.values())


def folder(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*.yaml")}


@pytest.mark.parametrize("api", ["v2beta2", "v2beta1"])
def test_the_example_folder_renders_valid_objects(api):
    rendered = render_kubesphere(parse_specs(folder(EXAMPLES)), api)
    assert [item["metadata"]["name"] for item in rendered.objects] == \
        ["default-email-config", "global-email-receiver", "team-db-email-receiver"]
    for item in rendered.objects:
        assert not crd_problems(item), crd_problems(item)
    receiver = rendered.objects[1]
    assert receiver["metadata"]["labels"] == {"type": "global"} and receiver["spec"]["email"]["enabled"] is True
    assert "secretKeyRef" in str(rendered.objects[0]) if api == "v2beta2" else \
        rendered.objects[0]["spec"]["email"]["authPassword"] == {"name": "global-email-config-secret",
                                                                 "key": "authPassword"}


@pytest.mark.parametrize("sample", ["console-v2beta2-list.yaml", "console-v2beta1.yaml", "console-secret.yaml"])
def test_the_console_samples_pass_the_crd(sample):
    document = YAML(typ="safe").load_all((DATA / sample).read_text())
    for item in document:
        for each in item.get("items", [item]):
            assert not crd_problems(each), crd_problems(each)


@pytest.mark.parametrize("change, found", [
    (lambda item: item["spec"]["email"].update(bcc=["x@example.com"]), "Additional properties"),
    (lambda item: item["spec"]["email"].pop("to"), "'to' is a required property"),
    (lambda item: item["spec"]["email"].update(enabled="yes"), "is not of type 'boolean'"),
    (lambda item: item["metadata"].update(name="Global_Email"), "name"),
])
def test_the_crd_check_can_fail(change, found):
    item = render_kubesphere(parse_specs(folder(EXAMPLES))).objects[1]
    change(item)
    assert any(found in problem for problem in crd_problems(item)), crd_problems(item)


def test_a_time_window_is_refused_at_its_line():
    files = folder(EXAMPLES)
    files["window.yaml"] = (b"apiVersion: notify-reconciler/v1\nkind: TimeWindow\nmetadata: {name: office}\n"
                            b"spec: {location: UTC, weekdays: [monday]}\n")
    files["team-db.yaml"] += b"  activeDuring: [office]\n"
    with pytest.raises(SpecErrors) as caught:
        render_kubesphere(parse_specs(files))
    [error] = caught.value.errors
    assert (error.file, error.path) == ("team-db.yaml", "spec.activeDuring[0]") and error.line > 1
    assert "no time windows" in error.message


def test_what_kubesphere_does_instead_is_warned_with_the_line():
    files = folder(EXAMPLES)
    files["team-db.yaml"] += b"  subject: 'DB: {{ .CommonLabels.alertname }}'\n"
    files["email-server.yaml"] += b"  maxRecipientsPerMessage: 10\n"
    warnings = render_kubesphere(parse_specs(files)).warnings
    assert any(w.startswith("team-db.yaml:") and "spec.subject" in w and "default mail" in w for w in warnings)
    assert any(w.startswith("team-db.yaml:") and "spec.repeatInterval" in w for w in warnings)
    assert any(w.startswith("email-server.yaml:") and "maxRecipientsPerMessage" in w for w in warnings)


def test_the_password_is_only_in_the_secret_and_only_when_given():
    specs = parse_specs(folder(EXAMPLES))
    assert "kind: Secret" not in render_kubesphere(specs).text
    rendered = render_kubesphere(specs, password="s3cret-password")
    assert "s3cret-password" not in rendered.text  # base64 in data
    [secret] = [item for item in rendered.objects if item["kind"] == "Secret"]
    assert secret["metadata"]["name"] == "global-email-config-secret"


def test_the_probe_dials_with_the_system_cas_as_notification_manager_does():
    from dataclasses import replace

    from reconciler.kubesphere.rendering import as_dialled

    server = parse_specs(folder(EXAMPLES)).server
    assert as_dialled(server) is server  # nothing the Config leaves out
    with_ca = replace(server, tls=replace(server.tls, ca_file="/etc/ssl/private-ca.pem", server_name="mx"))
    dialled = as_dialled(with_ca)
    assert dialled.tls.ca_file is None and dialled.tls.server_name == "mx" and dialled.port == server.port
