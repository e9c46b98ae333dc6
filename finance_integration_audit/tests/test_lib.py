# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import doctest
import io

from odoo.tests import BaseCase, tagged

from odoo.addons.finance_integration_core.lib import hashing

from ..lib import canonical, chain, export, pgcopy, signing


@tagged("post_install", "-at_install")
class TestLib(BaseCase):
    def test_doctests_pass(self):
        for module in (canonical, chain, pgcopy, signing):
            result = doctest.testmod(module)
            self.assertEqual(result.failed, 0, module.__name__)
            self.assertGreater(result.attempted, 0, module.__name__)

    def test_the_chain_hashes_with_cores_one_hash_function(self):
        self.assertIs(canonical.canonical_json, hashing.canonical_json)
        self.assertIs(canonical.sha256_hex, hashing.sha256_hex)
        row = self._rows(1)[0]
        self.assertEqual(
            chain.event_hash(row[:-1]),
            hashing.sha256_hex(hashing.canonical_json(["fi-audit/1", *row[:-1]])),
        )

    def test_facts_refuse_floats_and_objects_naming_the_path(self):
        with self.assertRaisesRegex(ValueError, r"facts\.lines\[1\]\.amount: float"):
            canonical.canonical_facts({"lines": [{}, {"amount": 0.1}]})
        with self.assertRaisesRegex(ValueError, "facts.when: datetime"):
            import datetime

            canonical.canonical_facts({"when": datetime.datetime(2026, 1, 1)})
        self.assertEqual(
            canonical.canonical_facts({"b": 1, "a": "2.50"}), '{"a":"2.50","b":1}'
        )

    def _rows(self, n):
        plain = [
            (
                1,
                f"2026-12-01T10:00:{i:02d}.000000",
                "t",
                2,
                3,
                4,
                5,
                i,
                "c",
                None,
                None,
                "s",
                "{}",
            )
            for i in range(n)
        ]
        return [
            (r[0], seq, prev, *r[1:], h)
            for r, (seq, prev, h) in zip(
                plain, chain.seal(plain, 0, chain.GENESIS), strict=True
            )
        ]

    def test_offline_export_verifies_and_pinpoints_a_changed_line(self):
        key = signing.load_private_key(signing.generate_private_key())
        public = signing.public_key_b64(key)
        rows = self._rows(5)
        cp = signing.sign_checkpoint(key, 1, 5, rows[-1][-1], "2026-12-01T11:00:00")
        stream = io.BytesIO()
        export.write_export(stream, export.header(1, 0, chain.GENESIS, {}), [cp], rows)
        lines = stream.getvalue().splitlines(keepends=True)
        keys = {signing.key_id(public): public}
        result = export.verify_lines(lines, keys)
        self.assertTrue(result.ok)
        self.assertEqual((result.rows, result.signed_sequence), (5, 5))
        lines[4] = lines[4].replace(b'"s"', b'"S"')
        result = export.verify_lines(lines, keys)
        self.assertEqual((result.brk.sequence, result.brk.kind), (3, "changed"))

    def test_checker_names_the_line_that_is_no_event_line(self):
        rows = self._rows(3)
        lines = [chain.event_line(r) for r in rows]
        checker = chain.EventChecker(1, 0, chain.GENESIS, line_no=4)
        with self.assertRaisesRegex(ValueError, "line 6: not an event line"):
            checker.feed([*lines[:1], b"garbage\n", lines[2]])
        checker = chain.EventChecker(2, 0, chain.GENESIS)
        with self.assertRaisesRegex(ValueError, "line 1: event of another company"):
            checker.feed(lines)

    def test_checker_fed_in_batches_finds_what_it_finds_in_one(self):
        rows = self._rows(7)
        lines = [chain.event_line(r) for r in rows]
        tampered = list(lines)
        tampered[4] = tampered[4].replace(b'"s"', b'"S"')
        for batch in (1, 2, 3, 7):
            checker = chain.EventChecker(1, 0, chain.GENESIS)
            for start in range(0, 7, batch):
                checker.feed(tampered[start : start + batch])
            self.assertEqual((checker.brk.sequence, checker.brk.kind), (5, "changed"))
            self.assertEqual((checker.count, checker.line_no), (4, 5))
        checker = chain.EventChecker(1, 0, chain.GENESIS, {3: "f" * 64})
        checker.feed(lines)
        self.assertEqual((checker.brk.sequence, checker.brk.kind), (3, "checkpoint"))
        checker = chain.EventChecker(1, 0, chain.GENESIS, {7: rows[-1][-1]})
        self.assertTrue(checker.feed(lines))
        self.assertEqual((checker.count, checker.prev_hash), (7, rows[-1][-1]))

    def test_checker_reports_a_missing_hash_as_a_changed_row(self):
        rows = self._rows(2)
        head = chain.canonical_form(rows[1][:-1])[:-1]
        lines = [chain.event_line(rows[0]), head + b",null]"]
        checker = chain.EventChecker(1, 0, chain.GENESIS)
        checker.feed(lines)
        self.assertEqual(checker.brk[:2], (2, "changed"))
        self.assertIsNone(checker.brk.found)
