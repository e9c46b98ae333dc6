"""JSON Schema (draft 2020-12) validation with compiled validators cached."""

import functools
import json

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


class SchemaDefinitionError(ValueError):
    """The schema itself is not a valid JSON Schema."""


@functools.lru_cache(maxsize=256)
def compiled_validator(schema_text):
    """A validator for ``schema_text``, built once per distinct schema."""
    try:
        schema = json.loads(schema_text)
        Draft202012Validator.check_schema(schema)
    except (ValueError, SchemaError) as err:
        raise SchemaDefinitionError(f"invalid JSON schema: {err}") from None
    return Draft202012Validator(schema)


def _path(error):
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_errors(schema_text, document, limit=10):
    """Readable errors of ``document`` against the schema, empty when valid.

    Each names the JSON path and the rule that failed, e.g.
    ``$.data.amount: 'x' is not of type 'integer' (rule: type)``.
    """
    validator = compiled_validator(schema_text)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    return [
        f"{_path(error)}: {error.message} (rule: {error.validator})"
        for error in errors[:limit]
    ]
