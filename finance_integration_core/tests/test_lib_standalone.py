# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""lib/ imports where Odoo is not installed (the audit addon's offline
verifier uses lib/hashing.py there)."""

import os
import subprocess
import sys

from odoo.tests import BaseCase, tagged

from ..lib import hashing

#: the folder holding finance_integration_core
ADDONS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@tagged("post_install", "-at_install")
class TestLibWithoutOdoo(BaseCase):
    def test_hashing_imports_and_hashes_where_odoo_cannot_be_imported(self):
        code = (
            "import sys; sys.modules['odoo'] = None; "
            "from finance_integration_core.lib.hashing import canonical_json, "
            "sha256_hex; print(sha256_hex(canonical_json({'b': 1, 'a': 'é'})))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ADDONS,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        expected = hashing.sha256_hex(hashing.canonical_json({"a": "é", "b": 1}))
        self.assertEqual(proc.stdout.strip(), expected)
