"""The event lines of a chain as PostgreSQL streams them, for the
verification in Odoo: the same lines an export holds (``chain.event_line``),
checked by the same ``chain.EventChecker`` as the offline verifier.

PostgreSQL builds each line (``LINE_SQL``, byte for byte the Python form:
``to_json()`` escapes a string exactly as ``json.dumps(ensure_ascii=False)``
does - ``\\" \\\\ \\b \\f \\n \\r \\t``, other control characters as lowercase
``\\u00xx``, everything else as is - and integers print the same; tests hold
the two equal, escapes included) and streams the lines with ``COPY ... TO
STDOUT`` in CSV form with a quote and a delimiter no line can hold (control
characters are escaped in every line), so each arrives verbatim, without
COPY's own escaping. Python hashes the lines with core's ``sha256_hex`` while
PostgreSQL builds the next ones: two processes, no row decoded into Python
values (which costs more than building and hashing the lines together).

>>> rows = []
>>> sink = CopySink(None, batch=2, lines=rows)
>>> for row in (b'["a"]\\n', b'["b"]\\n', b'["c"]\\n'):
...     sink.write(row)
>>> sink.flush()
>>> rows
[b'["a"]', b'["b"]', b'["c"]']
"""

from .chain import FORMAT


def _json(expression):
    return f"coalesce(to_json({expression})::text, 'null')"


def _number(expression):
    return f"coalesce(({expression})::text, 'null')"


#: the hashed fields (chain.FIELDS, in order) of a row of fi_audit_event as JSON text;
#: the date as the sealer reads it (microseconds, no zone)
_FIELDS_SQL = [
    _number("company_id"),
    _number("sequence"),
    _json("prev_hash"),
    _json("to_char(event_date, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"),
    _json("event_type"),
    _number("user_id"),
    _number("integration_user_id"),
    _number("endpoint_id"),
    _number("flow_id"),
    _number("message_id"),
    _json("correlation_id"),
    _json("res_model"),
    _number("res_id"),
    _json("summary"),
    _json("facts"),
]


def _array(parts):
    return f"'[\"{FORMAT}\",' || " + " || ',' || ".join(parts) + " || ']'"


#: the canonical form (chain.canonical_form) of a row, built by PostgreSQL
CANONICAL_SQL = _array(_FIELDS_SQL)
#: the event line (chain.event_line, without its newline) of a row: its
#: canonical form with the stored hash appended as the last element
LINE_SQL = _array([*_FIELDS_SQL, _json("hash")])
#: COPY options under which every line arrives as it is (CSV never quotes a
#: value without its quote, delimiter or a line break; none is in a line)
COPY_OPTIONS = "(FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"


def copy_sql(where):
    """The COPY statement streaming the lines of the rows matching ``where``
    (an SQL condition, values inlined), in chain order."""
    return (
        f"COPY (SELECT {LINE_SQL} FROM fi_audit_event WHERE {where} "
        f"ORDER BY company_id, sequence) TO STDOUT {COPY_OPTIONS}"
    )


class CopySink:
    """The file a COPY writes its lines to (one ``write`` per line): feeds
    them to ``checker`` (a chain.EventChecker) in batches, and/or collects
    them in ``lines`` (a list)."""

    def __init__(self, checker, batch=10000, lines=None):
        self.checker = checker
        self.batch = batch
        self.rows = []
        self.lines = lines

    def write(self, row):
        rows = self.rows
        rows.append(row)
        if len(rows) >= self.batch:
            self.flush()

    def flush(self):
        """Hand over the lines written since the last flush."""
        rows, self.rows = self.rows, []
        if not rows:
            return
        if self.lines is not None:
            self.lines.extend(row.rstrip(b"\n") for row in rows)
        if self.checker is not None:
            self.checker.feed(rows)
