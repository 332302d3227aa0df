"""`import` on the real e-mail configs of tests/data/corpus, judged by amtool (issue 22's proof).

For each corpus config with an e-mail receiver: import it, render the imported specs into the
imported base, and ask `amtool config routes test` on the original and on the render for every
label set built from the config's matchers: the receivers that send something must be the same
(each imported receiver by its list's name), and each imported receiver's list must mail the
same addresses with the same send_resolved. A config import refuses is pinned with its reasons,
so that a change in what is taken shows here.
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

REFUSED = {
    # Alertmanager's own examples: team-X-mails is both the root's receiver and a route's (two
    # timings), team-X-pager also pages, team-Y-mails' route has children.
    "alertmanager-example-simple": ["'team-X-mails' is left in base.yml as it is, with its routes: 2 routes lead to it",
                                    "'team-X-pager' is left in base.yml as it is, with its routes: it also has "
                                    "pagerduty_configs",
                                    "'team-Y-mails' is left in base.yml as it is, with its routes: its route "
                                    "route.routes[1] has child routes"],
    "alertmanager-testdata-conf-good": ["'team-X-mails' is left in base.yml as it is, with its routes: 2 routes lead "
                                        "to it", "'team-X-pager' is left in base.yml as it is, with its routes: it "
                                        "also has pagerduty_configs", "'team-Y-mails' is left in base.yml as it is, "
                                        "with its routes: its route route.routes[1] has child routes"],
}
"""Corpus configs with e-mail receivers that import refuses, with a line of each reason."""


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


def test_the_corpus_holds_real_email_configs():
    assert len(EMAIL_CORPUS) >= 2
    assert set(REFUSED) <= {path.stem for path in EMAIL_CORPUS}


@pytest.mark.parametrize("path", EMAIL_CORPUS, ids=lambda path: path.stem)
def test_an_imported_real_config_mails_whom_the_original_mails(amtool, tmp_path, path):
    config = corpus_config(path)
    try:
        imported = import_config(config, path.name)
    except SpecErrors as exc:
        assert path.stem in REFUSED, f"{path.name} is refused:\n{exc}"
        for reason in REFUSED[path.stem]:
            assert reason in str(exc), str(exc)
        return
    assert path.stem not in REFUSED, f"{path.name} imports now: take it out of REFUSED"
    specs = parse_specs({name.removeprefix(f"{SPEC_FOLDER}/"): text.encode() for name, text in imported.files.items()
                         if name.startswith(f"{SPEC_FOLDER}/")})
    rendered_text = render_alertmanager_config(specs, imported.files[BASE_FILE])
    original_path, rendered_path = tmp_path / "original.yml", tmp_path / "rendered.yml"
    original_path.write_text(config)
    rendered_path.write_text(rendered_text)
    yaml = YAML(typ="safe")
    original, rendered = yaml.load(config), yaml.load(rendered_text)
    renamed = {receiver: PREFIX + name for receiver, name in imported.lists.items()}
    before, after = addresses(original), addresses(rendered)
    for receiver, name in renamed.items():
        assert before[receiver] == after[name], f"{receiver} -> {name}: addresses or send_resolved differ"
    live_before, live_after = sending(original), sending(rendered)

    def both(labels: dict[str, str]) -> tuple[dict, list[str], list[str]]:
        return labels, amtool_receivers(amtool, original_path, labels), amtool_receivers(amtool, rendered_path, labels)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for labels, alone, after_import in pool.map(both, corpus_label_sets(config)):
            expected = sorted(renamed.get(name, name) for name in alone if name in live_before)
            assert sorted(name for name in after_import if name in live_after) == expected, labels
