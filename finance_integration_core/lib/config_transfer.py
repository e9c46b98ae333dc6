"""Configuration files moved between environments: their shape and the plan of
an import (no ORM).

A file holds sections of records; each record has a ``key`` (what it is
matched by in the target database: an endpoint's name, ``endpoint / flow``, a
value map's code, a runbook's reason code) and its ``values``. Secrets are
never in a file: each endpoint lists the ones that ``must be re-entered``.

>>> text = dump({"endpoints": [{"key": "Acme", "values": {"base_url": "https://a"}}]})
>>> config = parse(text, "acme.json")
>>> config["endpoints"][0]["values"]["base_url"]
'https://a'
>>> current = {"endpoints": {"Acme": {"base_url": "https://old", "sequence": 10}}}
>>> [(step["action"], step["changes"]) for step in plan(current, config)]
[('update', [['base_url', 'https://old', 'https://a']])]
>>> try:
...     parse('{"endpoints": [{"key": "Acme"}], "format": "%s", "version": 1}'
...           % FORMAT, "acme.json")
... except ConfigFileError as err:
...     print(err)
acme.json, endpoints record 'Acme', field 'values': has no values object
"""

import json

FORMAT = "finance_integration_core.configuration"
FORMAT_VERSION = 1
#: sections in the order an import applies them (flows need their endpoint,
#: value maps may belong to an endpoint)
SECTIONS = ("endpoints", "flows", "value_maps", "runbooks")
SECRET_PLACEHOLDER = "must be re-entered"


class ConfigFileError(ValueError):
    """A configuration file that cannot be imported, naming the file, the
    record (section and key) and the field."""

    def __init__(self, file_name, message, section=None, key=None, field=None):
        self.file_name = file_name
        self.section = section
        self.key = key
        self.field = field
        where = file_name
        if section:
            where += f", {section}"
            if key is not None:
                where += f" record {key!r}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


def dump(sections, exported_at=None, source=None):
    """The text of a configuration file holding ``sections``
    (``{section: [{"key": ..., "values": {...}}, ...]}``), stable for diffs."""
    document = {"format": FORMAT, "version": FORMAT_VERSION}
    if exported_at:
        document["exported_at"] = exported_at
    if source:
        document["source"] = source
    for section in SECTIONS:
        records = sorted(sections.get(section, []), key=lambda r: r["key"])
        document[section] = records
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def parse(text, file_name):
    """The sections of configuration file ``text``, checked for shape.

    Raises ``ConfigFileError`` naming the record and field that is wrong.
    """
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as err:
        raise ConfigFileError(file_name, f"not valid JSON ({err})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ConfigFileError(
            file_name,
            f"not a Finance Integration configuration file (format {found!r}, "
            f"expected {FORMAT!r})",
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigFileError(file_name, "the file has no format version")
    if version > FORMAT_VERSION:
        raise ConfigFileError(
            file_name,
            f"format version {version} is newer than this database reads "
            f"({FORMAT_VERSION}): update Finance Integration Core first",
        )
    unknown = set(document) - set(SECTIONS) - {"format", "version"}
    unknown -= {"exported_at", "source"}
    if unknown:
        raise ConfigFileError(
            file_name, f"unknown section(s) {', '.join(sorted(unknown))}"
        )
    config = {}
    for section in SECTIONS:
        records = document.get(section, [])
        if not isinstance(records, list):
            raise ConfigFileError(file_name, "must be a list of records", section)
        seen = set()
        checked = []
        for index, record in enumerate(records, 1):
            if not isinstance(record, dict):
                raise ConfigFileError(
                    file_name, f"record {index} is not an object", section
                )
            key = record.get("key")
            if not isinstance(key, str) or not key.strip():
                raise ConfigFileError(
                    file_name, f"record {index} has no key", section, field="key"
                )
            if key in seen:
                raise ConfigFileError(
                    file_name, "appears twice in the file", section, key, "key"
                )
            seen.add(key)
            values = record.get("values")
            if not isinstance(values, dict):
                raise ConfigFileError(
                    file_name, "has no values object", section, key, "values"
                )
            secrets = record.get("secrets", {})
            if not isinstance(secrets, dict) or any(
                value != SECRET_PLACEHOLDER for value in secrets.values()
            ):
                raise ConfigFileError(
                    file_name,
                    f"secrets are never imported: each one is listed as "
                    f"{SECRET_PLACEHOLDER!r} and typed in again on the endpoint",
                    section,
                    key,
                    "secrets",
                )
            checked.append(dict(record, values=values, secrets=secrets))
        config[section] = checked
    return config


def _blank(value):
    return value in (None, False, "", [], {})


def diff(current, incoming, prefix=""):
    """``[(field, current, incoming)]`` of the fields of ``incoming`` whose
    value differs; nested objects (the lines of a value map) are compared
    entry by entry as ``field/entry``.

    >>> diff({"a": 1, "lines": {"x": 1, "y": 2}}, {"a": 1, "lines": {"x": 3, "z": 4}})
    [('lines/x', 1, 3), ('lines/y', 2, None), ('lines/z', None, 4)]
    """
    changes = []
    for name in sorted(incoming):
        old, new = current.get(name), incoming[name]
        if isinstance(new, dict) and isinstance(old or {}, dict) and name == "lines":
            old = old or {}
            for entry in sorted(set(old) | set(new)):
                if old.get(entry) != new.get(entry):
                    changes.append(
                        (f"{prefix}{name}/{entry}", old.get(entry), new.get(entry))
                    )
            continue
        if _blank(old) and _blank(new):
            continue
        if old != new:
            changes.append((prefix + name, old, new))
    return changes


def plan(current, config):
    """What importing ``config`` would do, record by record, in order:
    ``[{"section", "key", "action": create|update|unchanged|absent,
    "changes", "secrets"}]``. ``current`` is ``{section: {key: values}}`` of
    the target database, in the same encoding as the file; a record of the
    database that the file does not hold is ``absent`` (left as it is)."""
    steps = []
    for section in SECTIONS:
        existing = current.get(section, {})
        in_file = {record["key"] for record in config.get(section, [])}
        for record in config.get(section, []):
            key, values = record["key"], record["values"]
            if key in existing:
                changes = diff(existing[key], values)
                action = "update" if changes else "unchanged"
            else:
                changes = diff({}, values)
                action = "create"
            steps.append(
                {
                    "section": section,
                    "key": key,
                    "action": action,
                    "changes": [list(change) for change in changes],
                    "secrets": sorted(record.get("secrets", {})),
                }
            )
        steps.extend(
            {"section": section, "key": key, "action": "absent", "changes": []}
            for key in sorted(set(existing) - in_file)
        )
    return steps


def _show(value):
    if _blank(value):
        return "-"
    if isinstance(value, str):
        return value if len(value) <= 80 else value[:77] + "..."
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def format_plan(steps):
    """The dry run as text: one block per record, one line per field.

    >>> print(format_plan([{"section": "endpoints", "key": "Acme",
    ...     "action": "update", "changes": [["base_url", "https://a", "https://b"]],
    ...     "secrets": ["credential"]}]))
    endpoints 'Acme': change
      base_url: https://a -> https://b
      credential: must be re-entered
    """
    words = {
        "create": "create",
        "update": "change",
        "unchanged": "unchanged",
        "absent": "not in the file, left as it is",
    }
    lines = []
    for step in steps:
        lines.append(f"{step['section']} {step['key']!r}: {words[step['action']]}")
        for field, old, new in step["changes"]:
            lines.append(f"  {field}: {_show(old)} -> {_show(new)}")
        if step["action"] in ("create", "update"):
            lines.extend(f"  {name}: {SECRET_PLACEHOLDER}" for name in step["secrets"])
    return "\n".join(lines)


def counts(steps):
    """``{action: number of records}``.

    >>> counts([{"action": "create"}, {"action": "create"}, {"action": "unchanged"}])
    {'create': 2, 'update': 0, 'unchanged': 1, 'absent': 0}
    """
    result = {"create": 0, "update": 0, "unchanged": 0, "absent": 0}
    for step in steps:
        result[step["action"]] += 1
    return result
