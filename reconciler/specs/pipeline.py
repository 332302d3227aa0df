"""From the files of a spec folder to validated `Specs`: loader -> schema -> model.

Pure. Collects the errors of every stage, so one run reports all of them, sorted by file
and line.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Collection, Mapping, NamedTuple

from ..errors import SpecError, SpecErrors
from ..yamlio.loader import DEFAULT_LIMITS, Limits, collector_paused, load_file
from .model import UNKNOWN_KIND, ModelObject, Specs, check_document, model_object, specs_from_objects
from .schema import KIND_SCHEMAS, validate_document
from .templates import TemplateFile, define_problems, template_file


class ParseCache(dict):
    """(path, git blob id) -> that file's model objects and errors. A commit that changes
    one file of a thousand parses, validates and models that one file only."""


def parse_specs(files: Mapping[str, bytes], limits: Limits = DEFAULT_LIMITS,
                extra_errors: list[SpecError] | None = None, *, digests: Mapping[str, str] | None = None,
                cache: ParseCache | None = None, templates: Mapping[str, bytes] | None = None) -> Specs:
    """Validated specs of a tree of spec files, or `SpecErrors` with every problem found.

    `files` maps each path (relative to the spec folder, as it is shown to users) to the
    file's bytes. `extra_errors` are problems found while reading the tree (a symlink that
    leaves the folder, an unreadable file); they make the result invalid too. With
    `digests` (path -> blob id) and a `cache`, files already seen with the same blob are
    taken from the cache (and may be missing from `files`); the cache is left holding
    exactly this tree's files. `templates` holds the folder's template files (*.tmpl);
    those the lists name are checked and carried in `Specs.template_files`.
    """
    digests = digests or {}
    errors = list(extra_errors or ())
    valid: list[ModelObject] = []
    failed_kinds: set[str] = {UNKNOWN_KIND} if errors else set()  # files of the tree that could not be read
    seen: dict[tuple[str, str], ParsedFile] = {}
    with collector_paused():  # a large tree's nodes, values and model objects all live on
        for name in sorted(set(files) | set(digests)):
            key = (name, digests.get(name, ""))
            entry = cache.get(key) if cache is not None and key[1] else None
            if entry is None:
                entry = _parse_file(name, files[name], limits)
            if key[1]:
                seen[key] = entry
            valid.extend(entry.objects)
            errors.extend(entry.errors)
            failed_kinds.update(entry.failed_kinds)
    if cache is not None:
        cache.clear()
        cache.update(seen)
    used, template_errors = _named_templates(valid, templates or {}, {error.file for error in extra_errors or ()})
    errors.extend(template_errors)
    specs, problems = specs_from_objects(valid, failed_kinds)
    errors.extend(problems)
    if errors:
        raise SpecErrors(errors)
    assert specs is not None
    return replace(specs, template_files=tuple(sorted(used, key=lambda item: item.path))) if used else specs


def _named_templates(objects: list[ModelObject], templates: Mapping[str, bytes],
                     unread: Collection[str] = ()) -> tuple[list[TemplateFile], list[SpecError]]:
    """The template files the lists and the policy name, each checked once; a name that is
    not a template file of the folder is an error at the field naming it, unless the file is
    there but could not be read (`unread`: its own error says why)."""
    errors: list[SpecError] = []
    named: dict[str, TemplateFile | None] = {}
    for item in objects:
        mail = getattr(item.value, "mail", None)
        if mail is None:
            continue
        for field, path, where in (("html", mail.html, mail.html_at), ("text", mail.text, mail.text_at)):
            if path is None:
                continue
            if path.startswith("../") or path == "..":
                errors.append(SpecError(where, f"spec.templates.{field}", "leaves the spec folder: template files "
                                                                         "must live inside it"))
            elif path in unread:
                continue
            elif path not in templates:
                errors.append(SpecError(where, f"spec.templates.{field}", f"there is no template file {path!r} in "
                                                                         "the spec folder (the path is relative to "
                                                                         "this spec file's folder)"))
            elif path not in named:
                carried, problems = template_file(path, templates[path])
                named[path] = carried
                errors.extend(problems)
    used = [item for item in named.values() if item is not None]
    errors.extend(define_problems(used))
    return used, errors


class ParsedFile(NamedTuple):
    """One file's model objects (for the cross-document rules), its errors, and the kinds of
    its documents that failed their schema."""

    objects: list[ModelObject]
    errors: list[SpecError]
    failed_kinds: frozenset[str]


def _parse_file(name: str, data: bytes, limits: Limits) -> ParsedFile:
    """Documents that fail their schema are left out of the cross-document rules, but their
    kind is kept: an EmailServer with a typo is reported as such, not also as missing."""
    documents, errors = load_file(name, data, limits)
    valid, failed_kinds = [], {UNKNOWN_KIND} if errors else set()  # a file (or some of it) not read
    for document in documents:
        schema_problems = validate_document(document)
        errors.extend(schema_problems)
        errors.extend(check_document(document))
        if not schema_problems:
            valid.append(model_object(document))
        else:
            kind = document.content.get("kind") if isinstance(document.content, dict) else None
            failed_kinds.add(kind if isinstance(kind, str) and kind in KIND_SCHEMAS else UNKNOWN_KIND)
    return ParsedFile(valid, errors, frozenset(failed_kinds))
