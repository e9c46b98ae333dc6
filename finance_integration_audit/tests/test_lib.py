# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import doctest
import io

from odoo.tests import BaseCase, tagged

from odoo.addons.finance_integration_core.lib.hashing import (
    canonical_json as core_canonical_json,
)

from ..lib import canonical, chain, export, signing


@tagged("post_install", "-at_install")
class TestLib(BaseCase):
    def test_doctests_pass(self):
        for module in (canonical, chain, signing):
            result = doctest.testmod(module)
            self.assertEqual(result.failed, 0, module.__name__)
            self.assertGreater(result.attempted, 0, module.__name__)

    def test_canonical_form_is_cores_for_plain_values(self):
        for value in (
            {"b": [1, "x", None], "a": {"é": True, "c": -3}},
            ["fi-audit/1", 1, 2, "0" * 64, 'ünïcode \u2028 "quoted"'],
        ):
            self.assertEqual(
                canonical.canonical_json(value), core_canonical_json(value)
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
