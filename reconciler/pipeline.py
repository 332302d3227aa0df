"""From the files of a spec folder to validated `Specs`: loader -> schema -> model.

Pure. Collects the errors of every stage, so one run reports all of them, sorted by file
and line. Documents that fail their schema are left out of the cross-document rules, so
one typo does not also produce a misleading "no EmailServer" error.
"""

from __future__ import annotations

from typing import Mapping

from .errors import SpecError, SpecErrors
from .loader import DEFAULT_LIMITS, Limits, load_files
from .model import Specs, check_document, specs_from_documents
from .schema import validate_document


def parse_specs(files: Mapping[str, bytes], limits: Limits = DEFAULT_LIMITS,
                extra_errors: list[SpecError] | None = None) -> Specs:
    """Validated specs of a tree of spec files, or `SpecErrors` with every problem found.

    `files` maps each path (relative to the spec folder, as it is shown to users) to the
    file's bytes. `extra_errors` are problems found while reading the tree (a symlink that
    leaves the folder, an unreadable file); they make the result invalid too.
    """
    documents, errors = load_files(files, limits)
    errors.extend(extra_errors or ())
    valid = []
    for document in documents:
        schema_problems = validate_document(document)
        errors.extend(schema_problems)
        errors.extend(check_document(document))
        if not schema_problems:
            valid.append(document)
    specs, problems = specs_from_documents(valid)
    errors.extend(problems)
    if errors:
        raise SpecErrors(errors)
    assert specs is not None
    return specs
