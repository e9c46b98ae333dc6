# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Batched creation of imported statement lines.

Odoo's ``account.bank.statement.line.create`` writes each line's move once,
names each move with its own queries and recomputes per record: about 18 ms of
CPU per line, 200 s for a 10,000-line statement. The lines of one import differ
only in their date, amount and texts, so this path lets Odoo's own ``create``
book the first line of each sequence period (the *prototype*: named, posted,
checked by Odoo) and copies its rows for the other lines of the period, one
``INSERT ... SELECT`` per table (move, statement line, journal items): every
column is the prototype's, whatever module added it, except those an import
line changes (its own values, the amounts, date, name, number and links),
computed as Odoo computes them (``lib/linebatch.py``). Then the ORM is told
the rows were created (``modified(create=True)``, as ``BaseModel._create``
does), so the statement's computed fields are recomputed by Odoo, the
constraints of the three models run on the new records, and the lock dates
are checked. ``tests/test_batch.py`` imports the same lines both ways and
compares every stored column of the three tables.

Odoo's own create is used (see ``_fi_batch_refusal``) where the copy is not
proven equivalent: a journal whose entries are hashed (inalterability: Odoo
hashes them one by one while posting), a journal in another currency than the
company's or a line in a foreign currency (amounts converted at a rate), a
line of zero (Odoo marks it reconciled), values other than an import's, or
fewer than two lines.
"""

import logging
from decimal import Decimal

from odoo import api, fields, models
from odoo.tools import SQL

from ..lib import linebatch

_logger = logging.getLogger(__name__)

#: the statement-line values an import sets that the copy handles (fi_* too)
BATCH_KEYS = {
    "statement_id",
    "journal_id",
    "date",
    "amount",
    "payment_ref",
    "partner_name",
    "account_number",
    "transaction_type",
}
#: move columns an import line changes (besides its values)
MOVE_AMOUNTS = (
    "amount_total",
    "amount_total_signed",
    "amount_total_in_currency_signed",
)


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    @api.model
    def _fi_create_batched(self, vals_list):
        """Create the statement lines ``vals_list`` (with their moves, posted)
        as Odoo's ``create`` does; the created lines in the order given."""
        reason = self._fi_batch_refusal(vals_list)
        if reason:
            _logger.debug("statement lines through Odoo's create: %s", reason)
            return self.create(vals_list)
        pending = list(enumerate(vals_list))
        created = {}
        while pending:
            # the first line Odoo would name: the earliest, then in file order
            first = min(pending, key=lambda p: (_day(p[1]), p[0]))
            prototype = self.create([first[1]])
            created[first[0]] = prototype.id
            move = prototype.move_id
            reset = move._deduce_sequence_number_reset(move.name)
            start, end = move._get_sequence_date_range(reset)[:2]
            inside = [
                p for p in pending if p is not first and start <= _day(p[1]) <= end
            ]
            pending = [
                p for p in pending if p is not first and not start <= _day(p[1]) <= end
            ]
            if inside:
                created.update(self._fi_copy_prototype(prototype, inside))
        return self.browse([created[i] for i in range(len(vals_list))])

    @api.model
    def _fi_batch_refusal(self, vals_list):
        """Why ``vals_list`` goes through Odoo's own create (or None)."""
        if len(vals_list) < 2:
            return "fewer than two lines"
        keys = set(vals_list[0])
        if any(set(vals) != keys for vals in vals_list):
            return "lines with different fields"
        unknown = {k for k in keys if k not in BATCH_KEYS and not k.startswith("fi_")}
        if unknown:
            return f"values other than an import's: {sorted(unknown)}"
        if not {"statement_id", "journal_id", "date", "amount"} <= keys:
            return "statement, journal, date or amount missing"
        if len({(v["statement_id"], v["journal_id"]) for v in vals_list}) > 1:
            return "several statements or journals"
        journal = self.env["account.journal"].browse(vals_list[0]["journal_id"])
        if journal.restrict_mode_hash_table:
            return "journal entries are hashed (inalterability)"
        if (
            journal.currency_id
            and journal.currency_id != journal.company_id.currency_id
        ):
            return "journal in another currency than the company's"
        if any(not v["amount"] for v in vals_list):
            return "a line of zero"
        return None

    def _fi_copy_prototype(self, prototype, items):
        """Copy the rows of ``prototype`` for ``items`` ([(position, vals)],
        all in its sequence period); {position: new line id}."""
        env = self.env
        liquidity, suspense, other = prototype._seek_for_lines()
        if other or len(liquidity) != 1 or len(suspense) != 1:
            lines = self.create([vals for _p, vals in items])
            return dict(zip([p for p, _v in items], lines.ids, strict=True))
        env.flush_all()
        move = prototype.move_id
        currency = prototype.currency_id
        digits = currency.decimal_places
        count = len(items)
        move_ids = self._fi_next_ids("account_move", count)
        line_ids = self._fi_next_ids("account_bank_statement_line", count)
        aml_ids = self._fi_next_ids("account_move_line", 2 * count)
        # names: Odoo's format of the prototype's name, numbers after it in
        # the order Odoo names a batch
        fmt, values = move._get_sequence_format_param(move.name)
        values.pop("seq")
        order = linebatch.numbering([(_day(v), p) for p, v in items])
        number = {p: move.sequence_number + 1 + rank for rank, p in enumerate(order)}

        move_cols = self._fi_columns("account_move")
        line_cols = self._fi_columns("account_bank_statement_line")
        move_keys = sorted(
            k for k in items[0][1] if k in move_cols and k not in line_cols
        )
        line_keys = sorted(k for k in items[0][1] if k in line_cols)
        move_rows, line_rows, link_rows, aml_rows = [], [], [], []
        # the liquidity item (balance = amount), then the suspense item
        # (-amount), each with its residual rule read on the prototype's
        factors = [(liquidity, _residual_factor(liquidity), 1)]
        factors.append((suspense, _residual_factor(suspense), -1))
        for index, (position, vals) in enumerate(items):
            amount = Decimal(f"{vals['amount']:.{digits}f}")
            name = fmt.format(**values, seq=number[position])
            day = _day(vals)
            move_rows.append(
                (move_ids[index], name, number[position], False, abs(amount))
                + (abs(amount),) * (len(MOVE_AMOUNTS) - 1)
                + tuple(
                    self._fi_column_value("account.move", k, vals) for k in move_keys
                )
            )
            line_rows.append(
                (
                    line_ids[index],
                    move_ids[index],
                    linebatch.internal_index(day, prototype.sequence, line_ids[index]),
                    float(-amount),
                )
                + tuple(self._fi_column_value(self._name, k, vals) for k in line_keys)
            )
            link_rows.append((move_ids[index], line_ids[index]))
            for role, (item, factor, sign) in enumerate(factors):
                amounts = linebatch.item_amounts(sign * amount, factor)
                aml_rows.append(
                    (
                        item.id,
                        aml_ids[2 * index + role],
                        move_ids[index],
                        line_ids[index],
                        name,
                        vals.get("payment_ref") or False,
                        day,
                    )
                    + tuple(amounts[c] for c in AML_AMOUNTS)
                )
        self._fi_insert_copies(
            "account_move",
            move_cols,
            move.id,
            ("id", "name", "sequence_number", "made_sequence_gap", *MOVE_AMOUNTS)
            + tuple(move_keys),
            move_rows,
            null=("statement_line_id",),
        )
        self._fi_insert_copies(
            "account_bank_statement_line",
            line_cols,
            prototype.id,
            ("id", "move_id", "internal_index", "amount_residual") + tuple(line_keys),
            line_rows,
        )
        env.execute_query(
            SQL(
                "UPDATE account_move m SET statement_line_id = v.line "
                "FROM (VALUES %s) AS v(id, line) WHERE m.id = v.id",
                SQL(", ").join(link_rows),
            )
        )
        self._fi_insert_copies(
            "account_move_line",
            self._fi_columns("account_move_line"),
            None,
            ("id", "move_id", "statement_line_id", "move_name", "name", "date")
            + AML_AMOUNTS,
            aml_rows,
        )
        # tell the ORM: the rows exist (dependent fields elsewhere, e.g. the
        # statement's balances, are recomputed), the sequence cache is stale
        env.invalidate_all()
        move._get_sequence_cache().clear()
        moves = env["account.move"].browse(move_ids)
        lines = self.browse(line_ids)
        amls = env["account.move.line"].browse(aml_ids)
        created = [(moves, moves._fields), (lines, lines._fields), (amls, amls._fields)]
        with env.protecting([(fs.values(), recs) for recs, fs in created]):
            for records, fields_ in created:
                records.modified(list(fields_), create=True)
        # the constraints on what differs from the prototype (which passed
        # them all in Odoo's create): values, amounts, dates, names, links
        changed = {
            "account.move": (
                ["name", "sequence_number", "date", "statement_line_id"]
                + list(MOVE_AMOUNTS)
                + move_keys
            ),
            self._name: ["move_id", "internal_index", "amount_residual"] + line_keys,
            "account.move.line": ["move_id", "statement_line_id", "name", "date"]
            + list(AML_AMOUNTS),
        }
        for records, _fields in created:
            records._validate_fields(changed[records._name])
        moves._check_fiscal_lock_dates()
        amls._check_tax_lock_date()
        # a message handler importing (a bank API pull) names the entries and
        # lines it created, as the ORM's create (which the audit addon
        # watches, and which did not see the copies) would have
        env["fi.audit"]._fi_touched(moves, "created")
        env["fi.audit"]._fi_touched(lines, "created")
        return dict(zip([p for p, _v in items], line_ids, strict=True))

    def _fi_next_ids(self, table, count):
        self.env.cr.execute(
            SQL(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                "FROM generate_series(1, %s)",
                table,
                count,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _fi_columns(self, table):
        """{column: type} of ``table``, every column whatever module added it."""
        self.env.cr.execute(
            "SELECT column_name, udt_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        )
        return dict(self.env.cr.fetchall())

    def _fi_column_value(self, model, fname, vals):
        """``vals[fname]`` as Odoo's ``_create`` stores it (same conversion,
        same rounding: none for a Monetary whose currency is computed)."""
        empty = self.env[model]
        return empty._fields[fname].convert_to_column_insert(
            vals[fname], empty, vals, validate=False
        )

    def _fi_insert_copies(self, table, columns, source_id, changed, rows, null=()):
        """INSERT one row per ``rows`` tuple, a copy of row ``source_id`` of
        ``table`` (``columns``: its ``_fi_columns``, read once by the caller)
        (or of the row whose id is each tuple's first value, when
        ``source_id`` is None) with the ``changed`` columns from the tuple and
        the ``null`` ones empty."""
        source = () if source_id else ("source",)
        names = source + tuple(changed)
        select = [
            SQL("v.%s::%s", SQL.identifier(c), SQL(columns[c]))
            if c in changed
            else SQL("NULL")
            if c in null
            else SQL("p.%s", SQL.identifier(c))
            for c in columns
        ]
        self.env.execute_query(
            SQL(
                "INSERT INTO %(table)s (%(columns)s) SELECT %(select)s "
                "FROM (VALUES %(rows)s) AS v(%(names)s) JOIN %(table)s p ON p.id = "
                "%(source)s",
                table=SQL.identifier(table),
                columns=SQL(", ").join(SQL.identifier(c) for c in columns),
                select=SQL(", ").join(select),
                rows=SQL(", ").join(rows),
                names=SQL(", ").join(SQL.identifier(n) for n in names),
                source=SQL("v.source") if not source_id else SQL("%s", source_id),
            )
        )


#: journal item columns an import line changes (besides its links and texts)
AML_AMOUNTS = (
    "balance",
    "amount_currency",
    "debit",
    "credit",
    "amount_residual",
    "amount_residual_currency",
    "price_subtotal",
    "price_total",
)


def _day(vals):
    return fields.Date.to_date(vals["date"])


def _residual_factor(item):
    """1 when Odoo keeps the item's balance as its residual (liquidity or
    reconcilable account), 0 when it has none (read on the prototype)."""
    return 1 if item.amount_residual else 0
