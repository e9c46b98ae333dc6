# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Configuration changes of endpoints, flows, schema versions and value maps
as field-level diffs; secrets only as "changed"."""

from odoo import api, models

from odoo.addons.finance_integration_core.lib.hashing import sha256_hex
from odoo.addons.finance_integration_core.models.fi_endpoint_secrets import (
    SECRET_FIELDS,
)

#: technical fields that change without anyone configuring anything
SKIPPED = {"write_date", "write_uid", "create_date", "create_uid", "__last_update"}
#: longer texts (schemas, mappings) enter the facts as a hash
LONG_TEXT = 200
SECRETS = set(SECRET_FIELDS) | set(SECRET_FIELDS.values())


def _is_secret(field):
    return field.name in SECRETS or "group_fi_vault" in (field.groups or "")


def _audited(records, names):
    fields_ = records._fields
    return [
        name
        for name in names
        if name in fields_
        and name not in SKIPPED
        and not name.startswith(("message_", "activity_"))
        and (fields_[name].store or _is_secret(fields_[name]))
    ]


def _plain(field, value):
    """A JSON value (no float) standing for a field value."""
    if field.type == "many2one":
        return value.id or None
    if field.type in ("one2many", "many2many"):
        return sorted(value.ids)
    if value is False or value is None:
        return None if field.type != "boolean" else False
    if field.type in ("float", "monetary"):
        return repr(value)
    if field.type in ("date", "datetime"):
        return value.isoformat()
    if field.type == "binary":
        return "binary"
    if isinstance(value, models.BaseModel):  # reference fields
        return f"{value._name},{value.id}" if value else None
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return {"sha256": sha256_hex(value.encode())}
    if not isinstance(value, str | int | bool):
        return str(value)
    return value


def snapshot(records, names):
    """{record id: {field: plain value}} of the audited ``names``."""
    names = [n for n in _audited(records, names) if not _is_secret(records._fields[n])]
    return {
        record.id: {n: _plain(record._fields[n], record[n]) for n in names}
        for record in records.sudo()
    }


def record_diffs(records, vals, before):
    """One ``config.changed`` event per record whose audited fields changed."""
    names = _audited(records, vals)
    audit = records.env["fi.audit"]
    for record in records.sudo():
        diff = {}
        for name in names:
            field = record._fields[name]
            if _is_secret(field):
                diff[name] = "changed"
                continue
            old = before.get(record.id, {}).get(name)
            new = _plain(field, record[name])
            if old != new:
                diff[name] = {"old": old, "new": new}
        if diff:
            audit._fi_event(
                "config.changed",
                f"{record._description} {record.display_name}: "
                + ", ".join(sorted(diff)),
                record=record,
                endpoint=_endpoint_of(record),
                facts={"model": record._name, "changes": diff},
            )


def record_created(records):
    audit = records.env["fi.audit"]
    for record in records.sudo():
        names = [
            n
            for n in _audited(record, list(record._fields))
            if record._fields[n].type not in ("one2many",)
        ]
        values = {
            n: "set"
            if _is_secret(record._fields[n])
            else _plain(record._fields[n], record[n])
            for n in names
            if record[n] not in (False, None) or record._fields[n].type == "boolean"
        }
        audit._fi_event(
            "config.created",
            f"{record._description} {record.display_name} created",
            record=record,
            endpoint=_endpoint_of(record),
            facts={"model": record._name, "values": values},
        )


def record_deleted(records):
    audit = records.env["fi.audit"]
    for record in records.sudo():
        audit._fi_event(
            "config.deleted",
            f"{record._description} {record.display_name} deleted",
            record=record,
            endpoint=_endpoint_of(record),
            facts={"model": record._name, "id": record.id},
        )


def _endpoint_of(record):
    if record._name == "fi.endpoint":
        return record
    if "endpoint_id" in record._fields:
        return record.endpoint_id
    return None


class FiAuditConfigMixin(models.AbstractModel):
    """Configuration records whose creation, field changes and deletion each
    enter the chain (``config.created`` / ``config.changed`` /
    ``config.deleted``)."""

    _name = "fi.audit.config.mixin"
    _description = "Finance Integration Audit: configuration changes"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        record_created(records)
        return records

    def write(self, vals):
        before = snapshot(self, list(vals))
        res = super().write(vals)
        record_diffs(self, vals, before)
        return res

    def unlink(self):
        record_deleted(self)
        return super().unlink()


class FiEndpoint(models.Model):
    _name = "fi.endpoint"
    _inherit = ["fi.endpoint", "fi.audit.config.mixin"]

    def _fi_reencrypt_all(self):
        count = super()._fi_reencrypt_all()
        self.env["fi.audit"]._fi_event(
            "key.rotated",
            f"Secrets re-encrypted with the newest key: {count}",
            facts={"secrets_reencrypted": count},
        )
        return count

    def _fi_purge_payloads(self):
        purged = super()._fi_purge_payloads()
        for endpoint, count in (purged or {}).items():
            if count:
                self.env["fi.audit"]._fi_event(
                    "retention.purged",
                    f"Payloads purged on {endpoint.display_name}: {count}",
                    endpoint=endpoint,
                    facts={
                        "messages_purged": count,
                        "retention_days": endpoint.payload_retention_days,
                    },
                )
        return purged


class FiFlow(models.Model):
    _name = "fi.flow"
    _inherit = ["fi.flow", "fi.audit.config.mixin"]


class FiFlowSchemaVersion(models.Model):
    _name = "fi.flow.schema.version"
    _inherit = ["fi.flow.schema.version", "fi.audit.config.mixin"]


class FiValueMap(models.Model):
    _name = "fi.value.map"
    _inherit = ["fi.value.map", "fi.audit.config.mixin"]


class FiValueMapVersion(models.Model):
    _name = "fi.value.map.version"
    _inherit = ["fi.value.map.version", "fi.audit.config.mixin"]


class FiValueMapLine(models.Model):
    _name = "fi.value.map.line"
    _inherit = ["fi.value.map.line", "fi.audit.config.mixin"]
