"""`import` on the real e-mail configs of tests/data/corpus, judged by amtool (issue 22's proof).

For each corpus config with an e-mail receiver: import it, render the imported specs into the
imported base, and ask `amtool config routes test` on the original and on the render for every
label set built from the config's matchers: the receivers that send something must be the same,
as many times (each imported receiver by its lists, one per route to it, and by its other
configs where it keeps some in the base under its name), and each imported receiver's lists must
mail the same addresses with the same send_resolved. Each e-mail receiver import leaves in the base is
pinned with its reason (all of a config's: the import is refused), so that a change in what is
taken shows here.
"""

from __future__ import annotations

import concurrent.futures
from email.utils import getaddresses

import pytest
from ruamel.yaml import YAML

from reconciler.errors import SpecErrors
from reconciler.core.importer import BASE_FILE, SPEC_FOLDER, import_config
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import PREFIX, render_alertmanager_config

from tests.support.am_corpus import CORPUS, amtool_receivers, corpus_config, corpus_label_sets


pytestmark = pytest.mark.alertmanager

EMAIL_CORPUS = [path for path in CORPUS if "email_configs" in corpus_config(path)]

LEFT = {
    # One e-mail config logs in as another user than the others: one EmailServer cannot say it.
    "alertmanager-testdata-smtp-password-global-and-local": ["'email-notifications' is left in base.yml as it is, "
                                                             "with its routes: email_configs[1].auth_username differs "
                                                             "from the global smtp settings"],
    # Cortex's example mails someone@localhost: a list takes only addresses with a mail domain.
    "cortex-dev-alertmanager": ["'send-email' is left in base.yml as it is, with its routes: spec.recipients[0]: "
                                "'someone@localhost' is not an e-mail address"],
}
"""Corpus configs with e-mail receivers that import leaves in the base (all of them: the import
is refused), with a line of each reason. Every other one imports with all its e-mail receivers."""

REFUSED = {
    # pgmonitor's smarthost has a space before the port: amtool takes it, no mail could be sent.
    "crunchydata-pgmonitor-alertmanager": "global.smtp_smarthost: 'localhost: 25': ' 25' is not a port number",
}
"""Corpus configs whose whole import is refused, for one reason outside any receiver."""


def sending(config: dict) -> set[str]:
    return {r["name"] for r in config.get("receivers") or ()
            if any(key.endswith("_configs") and value for key, value in r.items())}


def addresses(config: dict) -> dict[str, tuple[frozenset, bool]]:
    found = {}
    for receiver in config.get("receivers") or ():
        configs = receiver.get("email_configs") or ()
        found[receiver["name"]] = (frozenset(address.lower() for config in configs
                                             for _, address in getaddresses([str(config.get("to") or "")])),
                                   {bool(config.get("send_resolved", False)) for config in configs} == {True})
    return found


def corpus_templates(path: Path) -> dict[str, bytes] | None:
    """The template files a corpus config's templates: reads, where the corpus holds them
    (templates/<config>/, as `import --templates` reads a folder)."""
    folder = path.parent / "templates" / path.stem
    return {item.name: item.read_bytes() for item in sorted(folder.iterdir())} if folder.is_dir() else None


def test_the_corpus_holds_real_email_configs():
    assert len(EMAIL_CORPUS) >= 2
    assert set(LEFT) | set(REFUSED) <= {path.stem for path in EMAIL_CORPUS}
    assert not set(LEFT) & set(REFUSED)


@pytest.mark.parametrize("path", EMAIL_CORPUS, ids=lambda path: path.stem)
def test_an_imported_real_config_mails_whom_the_original_mails(amtool, tmp_path, path):
    config = corpus_config(path)
    try:
        imported = import_config(config, path.name, templates=corpus_templates(path))
    except SpecErrors as exc:
        if path.stem in REFUSED:
            assert REFUSED[path.stem] in str(exc) and len(exc.errors) == 1, str(exc)
            return
        assert path.stem in LEFT, f"{path.name} is refused:\n{exc}"
        for reason in LEFT[path.stem]:
            assert reason in str(exc), str(exc)
        assert len(exc.errors) == len(LEFT[path.stem]) + 1, f"other receivers are refused too:\n{exc}"
        return
    assert path.stem not in REFUSED, f"{path.name} now imports: take it out of REFUSED"
    left = [note for note in imported.notes if "is left in base.yml" in note]
    assert len(left) == len(LEFT.get(path.stem, ())), f"{path.name} leaves in the base:\n" + "\n".join(left)
    for reason in LEFT.get(path.stem, ()):
        assert any(reason in note for note in left), "\n".join(left)
    inside = {name.removeprefix(f"{SPEC_FOLDER}/"): text.encode() for name, text in imported.files.items()
              if name.startswith(f"{SPEC_FOLDER}/")}
    specs = parse_specs({name: data for name, data in inside.items() if name.endswith(".yaml")},
                        templates={name: data for name, data in inside.items() if name.endswith(".tmpl")})
    rendered_text = render_alertmanager_config(specs, imported.files[BASE_FILE])
    original_path, rendered_path = tmp_path / "original.yml", tmp_path / "rendered.yml"
    original_path.write_text(config)
    rendered_path.write_text(rendered_text)
    yaml = YAML(typ="safe")
    original, rendered = yaml.load(config), yaml.load(rendered_text)
    # Each list (one per route to its receiver) is named back to its receiver: the same
    # receivers, as often (a receiver reached by two routes is two lists), with the same mail.
    receiver_of = {PREFIX + name: receiver for receiver, names in imported.lists.items() for name in names}
    before, after = addresses(original), addresses(rendered)
    for name, receiver in receiver_of.items():
        assert before[receiver] == after[name], f"{receiver} -> {name}: addresses or send_resolved differ"
    live_before, live_after = sending(original), sending(rendered)
    receiver_of = {name: f"{receiver} (its mail)" for name, receiver in receiver_of.items()}

    def parts(name: str) -> list[str]:
        """What a receiver reached before is reached as after the import: its mail as a list, and
        its other configs (pager, Slack) in the base under its name."""
        if name not in imported.lists:
            return [name]
        return [f"{name} (its mail)", *([name] if name in live_after else [])]

    def both(labels: dict[str, str]) -> tuple[dict, list[str], list[str]]:
        return labels, amtool_receivers(amtool, original_path, labels), amtool_receivers(amtool, rendered_path, labels)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for labels, alone, after_import in pool.map(both, corpus_label_sets(config)):
            expected = sorted(part for name in alone if name in live_before for part in parts(name))
            got = sorted(receiver_of.get(name, name) for name in after_import if name in live_after)
            assert got == expected, labels
