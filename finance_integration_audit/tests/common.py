# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Shared fixtures: a signing key in the server configuration, chain helpers,
raw-SQL tampering as a DBA would do it."""

import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from unittest.mock import patch

from odoo import tools

from odoo.addons.finance_integration_core.tests.common import FiCommon

from ..lib.signing import generate_private_key, load_private_key, public_key_b64
from ..models.fi_audit_event import HASHED_SQL

#: the repository root: the offline verifier runs from there
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class AuditCommon(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private_key = generate_private_key()
        cls.public_key = public_key_b64(load_private_key(cls.private_key))
        cls.startClassPatcher(
            patch.dict(tools.config.options, {"fi_audit_signing_key": cls.private_key})
        )
        cls.events = cls.env["fi.audit.event"]
        cls.company = cls.env.company

    @classmethod
    def handle_with_code(cls, name, code):
        """Make the test flow's handler a server action running ``code``."""
        action = cls.env["ir.actions.server"].create(
            {
                "name": name,
                "model_id": cls.env.ref("finance_integration_core.model_fi_message").id,
                "state": "code",
                "code": code,
            }
        )
        cls.flow.write({"action": "server_action", "server_action_id": action.id})

    def event(self, event_type="test.event", summary="a test event", **kwargs):
        return self.env["fi.audit"]._fi_event(event_type, summary, **kwargs)

    def seal(self):
        count = self.events._fi_seal()
        self.assertIsNotNone(count, "the sealer must get the chain")
        return count

    def chain_rows(self, company=None):
        self.env.flush_all()
        self.env.cr.execute(
            f"SELECT {HASHED_SQL}, hash FROM fi_audit_event "
            "WHERE company_id = %s AND sequence IS NOT NULL ORDER BY sequence",
            ((company or self.company).id,),
        )
        return self.env.cr.fetchall()

    def verify(self, company=None):
        return self.env["fi.audit.verification"]._fi_verify(company or self.company)

    @contextmanager
    def triggers_disabled(self):
        """What a DBA can do: switch the guard off, change rows, switch it on."""
        cr = self.env.cr
        cr.execute("ALTER TABLE fi_audit_event DISABLE TRIGGER USER")
        try:
            yield cr
        finally:
            cr.execute("ALTER TABLE fi_audit_event ENABLE TRIGGER USER")

    def sequence_row(self, sequence, company=None):
        self.env.cr.execute(
            "SELECT id FROM fi_audit_event WHERE company_id = %s AND sequence = %s",
            ((company or self.company).id, sequence),
        )
        return self.env.cr.fetchone()[0]

    def offline_verify(self, data, public_keys=None):
        """Run the standalone verifier on ``data`` (bytes) in a fresh Python
        where any import of odoo fails; returns (exit code, output)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "export.jsonl")
            keys = os.path.join(tmp, "keys.txt")
            with open(path, "wb") as stream:
                stream.write(data)
            with open(keys, "w", encoding="ascii") as stream:
                stream.write("\n".join(public_keys or [self.public_key]) + "\n")
            code = (
                "import runpy, sys; sys.modules['odoo'] = None; "
                "sys.argv = ['verify', sys.argv[1], '--public-key', sys.argv[2]]; "
                "runpy.run_module('finance_integration_audit.lib.verify', "
                "run_name='__main__')"
            )
            proc = subprocess.run(
                [sys.executable, "-c", code, path, keys],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        return proc.returncode, (proc.stdout + proc.stderr).strip()
