"""model: defaults, overrides and the rules that span documents."""

from __future__ import annotations

from reconciler.pipeline import parse_specs

HEAD = "apiVersion: notify-reconciler/v1\n"


def specs(**files: str):
    return parse_specs({f"{name}.yaml": text.encode() for name, text in files.items()})


def server(spec: str) -> str:
    return f"{HEAD}kind: EmailServer\nmetadata: {{name: s}}\nspec: {{from: a@example.com, {spec}}}\n"


def test_starttls_is_on_unless_ssl():
    assert specs(s=server("host: h.example.com")).server.starttls is True
    ssl = specs(s=server("host: h.example.com, port: 465, ssl: true")).server
    assert (ssl.ssl, ssl.starttls) == (True, False)
    assert specs(s=server("host: h.example.com, starttls: false")).server.starttls is False


def test_list_overrides_then_policy_then_schema_defaults():
    result = specs(
        s=server("host: h.example.com"),
        p=f"{HEAD}kind: NotificationPolicy\nmetadata: {{name: p}}\nspec: {{repeatInterval: 6h, groupWait: 1m}}\n",
        l=f"{HEAD}kind: RecipientList\nmetadata: {{name: l}}\nspec: {{recipients: [a@example.com], "
          f"repeatInterval: 1h}}\n")
    routing = result.routing_for(result.lists[0])
    assert (routing.repeat_interval, routing.group_wait, routing.group_interval, routing.group_by,
            routing.send_resolved) == ("1h", "1m", "5m", ("alertname",), True)


def test_lists_are_sorted_by_name_whatever_the_files():
    lists = {f"f{9 - n}": f"{HEAD}kind: RecipientList\nmetadata: {{name: team-{n}}}\nspec: {{recipients: "
                          f"[t{n}@example.com]}}\n" for n in range(5)}
    result = specs(s=server("host: h.example.com"), **lists)
    assert [item.name for item in result.lists] == [f"team-{n}" for n in range(5)]


def test_disabled_server_means_no_email():
    assert specs(s=server("host: h.example.com, enabled: false")).email_enabled is False
    assert specs(s=server("host: h.example.com")).email_enabled is True


def test_an_empty_folder_is_valid_and_sends_nothing():
    empty = parse_specs({})
    assert (empty.server, empty.lists, empty.policy, empty.email_enabled) == (None, (), None, False)


def test_recipient_names_and_addresses_are_kept_as_written():
    result = specs(s=server("host: h.example.com"),
                   l=f"{HEAD}kind: RecipientList\nmetadata: {{name: l}}\nspec:\n  recipients:\n"
                     "    - Ops@Example.com\n    - {name: Database on-call, email: db@example.com}\n")
    assert [(r.email, r.name) for r in result.lists[0].recipients] == [
        ("Ops@Example.com", None), ("db@example.com", "Database on-call")]


def test_parse_cache_reuses_unchanged_files_and_still_reports_their_errors():
    from reconciler.errors import SpecErrors
    from reconciler.pipeline import ParseCache

    lists = {f"l{n}.yaml": f"{HEAD}kind: RecipientList\nmetadata: {{name: l{n}}}\nspec: {{recipients: "
                           f"[a{n}@example.com]}}\n".encode() for n in range(3)}
    files = {"s.yaml": server("host: h.example.com").encode(), **lists}
    digests = {name: f"blob-{name}-1" for name in files}
    cache = ParseCache()
    first = parse_specs(files, digests=digests, cache=cache)
    assert len(cache) == 4
    # Unchanged files need not be read again: only the changed one is given.
    changed = {"l1.yaml": files["l1.yaml"].replace(b"a1@", b"b1@")}
    second = parse_specs(changed, digests={**digests, "l1.yaml": "blob-l1-2"}, cache=cache)
    assert [r.email for lst in second.lists for r in lst.recipients] == ["a0@example.com", "b1@example.com",
                                                                          "a2@example.com"]
    assert first.server == second.server
    # A broken file stays broken while its blob is unchanged, cached or not.
    broken = {"l2.yaml": b"kind: [\n"}
    for _ in range(2):
        try:
            parse_specs(broken, digests={**digests, "l1.yaml": "blob-l1-2", "l2.yaml": "blob-l2-bad"}, cache=cache)
        except SpecErrors as exc:
            assert [e.file for e in exc.errors] == ["l2.yaml"]
        else:
            raise AssertionError("the broken file was not reported")
        broken = {}  # the second time it comes from the cache alone
    # Removed files leave the cache.
    parse_specs({}, digests={"s.yaml": digests["s.yaml"]}, cache=cache)
    assert list(cache) == [("s.yaml", digests["s.yaml"])]
