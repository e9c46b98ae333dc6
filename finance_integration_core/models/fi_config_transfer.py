# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Configuration between environments: export to a versioned JSON file,
import under change control (dry run per record and field, four eyes).

The file format and the plan of an import are pure code in
``lib/config_transfer.py``; this file reads the database into that format
(``_fi_config_snapshot``) and applies an approved import. Secrets are never
exported: each endpoint lists the ones that must be re-entered.
"""

import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..lib import config_transfer
from ..lib.config_transfer import SECRET_PLACEHOLDER, ConfigFileError
from .fi_change_log import CHANGE_CONTROL
from .fi_endpoint_change import field_differs
from .fi_endpoint_secrets import SECRET_FIELDS

#: fields of an endpoint or flow that describe this database's state or
#: operations, not its configuration
NOT_CONFIGURATION = {
    "company_id",
    "state",
    "key",
    "paused",
    "legal_hold",
    "legal_hold_reason",
    "schema_version",
    "endpoint_id",
}
VALUE_MAP_FIELDS = (
    "name",
    "code",
    "endpoint_id",
    "value_type",
    "target_model_id",
    "require_four_eyes",
)
RUNBOOK_FIELDS = ("reason_code", "instructions", "approver_id")


def _configuration_fields(model):
    """The stored, user-editable fields of ``model`` (connector settings
    included), without mixins' bookkeeping, secrets (fields with ``groups``)
    and what ``NOT_CONFIGURATION`` names."""
    names = []
    for name, field in model._fields.items():
        if (
            not field.store
            or field.compute
            or field.related
            or field.readonly
            or field.groups
            or field.automatic
            or field.type in ("one2many", "many2many", "binary", "reference")
            or name in NOT_CONFIGURATION
            or name.startswith(("message_", "activity_", "website_message"))
        ):
            continue
        names.append(name)
    return sorted(names)


def _ref_of(record):
    """A many2one value as the file holds it: what finds the same record in
    another database (a user's login, a model's name, an endpoint's name,
    an XML id, else the record's name)."""
    if not record:
        return None
    # what identifies the record, read as superuser (ir.model, ir.model.data)
    record = record.sudo()
    if record._name == "res.users":
        return {"login": record.login}
    if record._name == "ir.model":
        return {"model": record.model}
    if record._name == "fi.endpoint":
        return {"endpoint": record.name}
    xmlid = record.get_external_id().get(record.id)
    if xmlid and not xmlid.startswith("__"):
        return {"xmlid": xmlid}
    return {"name": record.display_name}


def _encode(record, name):
    field = record._fields[name]
    value = record[name]
    if field.type == "many2one":
        return _ref_of(value)
    if field.type in ("date", "datetime"):
        return field.to_string(value) if value else None
    return value


class FiConfigTransfer(models.AbstractModel):
    """Reads the configuration of a company in the file's encoding and
    writes an imported one back."""

    _name = "fi.config.transfer"
    _description = "Finance Integration Configuration Transfer"

    # ------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------
    @api.model
    def _fi_config_records(self, company):
        """``{section: {key: record}}`` of ``company``'s configuration."""
        env = self.env
        endpoints = env["fi.endpoint"].search([("company_id", "=", company.id)])
        flows = env["fi.flow"].search([("endpoint_id", "in", endpoints.ids)])
        maps = env["fi.value.map"].search([("company_id", "in", (company.id, False))])
        maps = maps.filtered(
            lambda m: not m.endpoint_id or m.endpoint_id.company_id == company
        )
        runbooks = env["fi.reason.runbook"].search(
            [("company_id", "in", (company.id, False))]
        )
        sections = {
            "endpoints": endpoints,
            "flows": flows,
            "value_maps": maps,
            "runbooks": runbooks,
        }
        result = {}
        for section, records in sections.items():
            keyed = {}
            for record in records:
                key = self._fi_config_key(section, record)
                if key in keyed:
                    raise UserError(
                        _(
                            "Two %(section)s of %(company)s are both %(key)s: "
                            "rename one before exporting.",
                            section=section,
                            company=company.name,
                            key=key,
                        )
                    )
                keyed[key] = record
            result[section] = keyed
        return result

    @api.model
    def _fi_config_model(self, section):
        return self.env[
            {
                "endpoints": "fi.endpoint",
                "flows": "fi.flow",
                "value_maps": "fi.value.map",
                "runbooks": "fi.reason.runbook",
            }[section]
        ]

    @api.model
    def _fi_config_key(self, section, record):
        if section == "endpoints":
            return record.name
        if section == "flows":
            return f"{record.endpoint_id.name} / {record.name}"
        suffix = ""
        if section == "value_maps":
            base = record.code
            if record.endpoint_id:
                suffix = f" @ {record.endpoint_id.name}"
        else:
            base = record.reason_code
        if not record.company_id:
            suffix += " (all companies)"
        return base + suffix

    @api.model
    def _fi_config_values(self, section, record):
        """The values of one record as the file holds them."""
        if section == "endpoints":
            names = _configuration_fields(self.env["fi.endpoint"])
            return {name: _encode(record, name) for name in names if name != "name"}
        if section == "flows":
            names = _configuration_fields(self.env["fi.flow"])
            values = {name: _encode(record, name) for name in names if name != "name"}
            values.update(endpoint_id=_ref_of(record.endpoint_id), name=record.name)
            return values
        names = VALUE_MAP_FIELDS if section == "value_maps" else RUNBOOK_FIELDS
        values = {name: _encode(record, name) for name in names}
        values["shared"] = not record.company_id
        if section == "value_maps":
            values["lines"] = {
                line.external_code: _ref_of(line.value_ref)
                if line.value_ref
                else line.value_char
                for line in record.active_version_id.line_ids
            }
        return values

    @api.model
    def _fi_config_secrets(self, endpoint):
        """The secrets an endpoint has set, each to be re-entered."""
        return {
            name: SECRET_PLACEHOLDER
            for name in SECRET_FIELDS
            if endpoint[f"{name}_set"]
        }

    @api.model
    def _fi_config_snapshot(self, company):
        """``{section: {key: values}}``: what a dry run compares a file with."""
        return {
            section: {
                key: self._fi_config_values(section, record)
                for key, record in records.items()
            }
            for section, records in self._fi_config_records(company).items()
        }

    @api.model
    def _fi_export_text(self, company):
        """The configuration file of ``company`` (no secret in it)."""
        sections = {}
        for section, records in self._fi_config_records(company).items():
            sections[section] = []
            for key, record in records.items():
                entry = {"key": key, "values": self._fi_config_values(section, record)}
                if section == "endpoints":
                    entry["secrets"] = self._fi_config_secrets(record)
                sections[section].append(entry)
        production = self.env["fi.endpoint"]._fi_is_production_database()
        return config_transfer.dump(
            sections,
            exported_at=fields.Datetime.to_string(fields.Datetime.now()),
            source={"company": company.name, "production_database": production},
        )

    # ------------------------------------------------------------------
    # writing
    # ------------------------------------------------------------------
    @api.model
    def _fi_decode_ref(self, comodel, ref, where):
        """The record of ``comodel`` a file's reference names (one, or a
        ``ConfigFileError`` naming the record and field)."""
        if ref in (None, False):
            return self.env[comodel]
        # resolved as superuser (ir.model, other companies' users); the
        # write that uses the id is checked with the user's rights
        Model = self.env[comodel].sudo().with_context(active_test=False)
        found = Model
        if not isinstance(ref, dict) or len(ref) != 1:
            raise where(
                _(
                    "a reference is an object with one of login, model, "
                    "endpoint, xmlid or name"
                )
            )
        ((kind, value),) = ref.items()
        if kind == "xmlid":
            found = Model.env.ref(str(value), raise_if_not_found=False) or Model
        elif kind == "login" and comodel == "res.users":
            found = Model.search([("login", "=", value)])
        elif kind == "model" and comodel == "ir.model":
            found = Model.search([("model", "=", value)])
        elif kind == "endpoint" and comodel == "fi.endpoint":
            found = Model.search(
                [("name", "=", value), ("company_id", "=", self.env.company.id)]
            )
        elif kind == "name":
            found = Model.search([(Model._rec_name or "id", "=", value)])
        else:
            raise where(_("%(kind)s cannot name a %(model)s", kind=kind, model=comodel))
        if found and found._name != comodel:
            found = Model
        if len(found) != 1:
            raise where(
                _(
                    "%(ref)s names %(count)s records of %(model)s in this "
                    "database: create it or fix the file",
                    ref=json.dumps(ref),
                    count=len(found),
                    model=comodel,
                )
            )
        return found.with_env(self.env)

    @api.model
    def _fi_decode_values(self, model, values, where_field):
        """File values -> ``write`` values of ``model``; unknown fields and
        bad references raise a ``ConfigFileError`` naming the field."""
        result = {}
        for name, value in values.items():
            field = model._fields.get(name)
            if field is None:
                raise where_field(name)(_("this database has no such field"))
            if field.type == "many2one":
                result[name] = self._fi_decode_ref(
                    field.comodel_name, value, where_field(name)
                ).id
            elif field.type == "selection" and value:
                allowed = [
                    code for code, _label in field._description_selection(self.env)
                ]
                if value not in allowed:
                    raise where_field(name)(
                        _(
                            "%(value)s is not one of %(allowed)s",
                            value=value,
                            allowed=", ".join(allowed),
                        )
                    )
                result[name] = value
            else:
                result[name] = value
        return result

    @api.model
    def _fi_where(self, file_name, section, key):
        """``where_field(name)(message)``: the error naming the file, the
        record and the field."""

        def where_field(name):
            def error(message):
                return UserError(
                    str(ConfigFileError(file_name, message, section, key, name))
                )

            return error

        return where_field

    @api.model
    def _fi_apply(self, config, file_name, note):
        """Create or change every record of ``config`` (an approved import),
        as the activating Manager, in this transaction: endpoints first, then
        their flows, value maps and runbooks. A record the database refuses
        raises a ``UserError`` naming the file, the record and the field."""
        company = self.env.company
        for section in config_transfer.SECTIONS:
            records = self._fi_config_records(company)[section]
            for entry in config.get(section, []):
                key = entry["key"]
                where_field = self._fi_where(file_name, section, key)
                apply = getattr(self, f"_fi_apply_{section}")
                try:
                    apply(key, records.get(key), entry["values"], where_field, note)
                except (UserError, ValidationError) as err:
                    if str(err).startswith(file_name):
                        raise
                    raise UserError(
                        str(ConfigFileError(file_name, str(err), section, key))
                    ) from None

    def _fi_apply_endpoints(self, key, endpoint, values, where_field, note):
        Endpoint = self.env["fi.endpoint"]
        vals = self._fi_decode_values(Endpoint, values, where_field)
        if not endpoint:
            # a new endpoint starts as a draft: its secrets are typed in and
            # it is activated here, by someone of this environment
            Endpoint.create(dict(vals, name=key, company_id=self.env.company.id))
            return
        changed = {n: v for n, v in vals.items() if field_differs(endpoint, n, v)}
        if not changed:
            return
        governed = set(endpoint._fi_governed_fields()) & set(changed)
        if governed and endpoint._fi_is_governed():
            # a live production endpoint: its governed settings become a
            # version of its own history (Settings Versions tab)
            change = (
                self.env["fi.endpoint.change"]
                .with_context(fi_change_control=CHANGE_CONTROL)
                .create(
                    dict(
                        {name: changed.pop(name) for name in sorted(governed)},
                        endpoint_id=endpoint.id,
                        change_note=note,
                    )
                )
            )
            change._fi_activate(note)
        if changed:
            endpoint.write(changed)

    def _fi_apply_flows(self, key, flow, values, where_field, note):
        Flow = self.env["fi.flow"]
        values = dict(values)
        schema = values.pop("schema_json", None)
        vals = self._fi_decode_values(Flow, values, where_field)
        if not flow:
            flow = Flow.create(dict(vals, schema_json=schema or False))
            return
        changed = {n: v for n, v in vals.items() if field_differs(flow, n, v)}
        if changed:
            flow.write(changed)
        if (schema or False) == (flow.schema_json or False):
            return
        if not flow.schema_version_ids:
            flow.write({"schema_json": schema or False})
            return
        # a governed schema: a new version, approved with this import
        version = (
            self.env["fi.flow.schema.version"]
            .with_context(fi_change_control=CHANGE_CONTROL)
            .create(
                {"flow_id": flow.id, "schema_json": schema or "{}", "change_note": note}
            )
        )
        version._fi_activate(note)

    def _fi_apply_value_maps(self, key, vmap, values, where_field, note):
        Map = self.env["fi.value.map"]
        values = dict(values)
        lines = values.pop("lines", None) or {}
        shared = values.pop("shared", False)
        vals = self._fi_decode_values(Map, values, where_field)
        vals["company_id"] = False if shared else self.env.company.id
        if not vmap:
            vmap = Map.create(vals)
        else:
            changed = {n: v for n, v in vals.items() if field_differs(vmap, n, v)}
            if changed:
                vmap.write(changed)
        current = self._fi_config_values("value_maps", vmap)["lines"]
        if current == lines and vmap.active_version_id:
            return
        line_vals = self._fi_decode_lines(vmap, vals, lines, where_field)
        version = vmap._fi_new_version(note)
        version.line_ids.unlink()
        version.write({"line_ids": [(0, 0, line) for line in line_vals]})
        version._fi_activate(note)

    def _fi_decode_lines(self, vmap, vals, lines, where_field):
        """The lines of a value map in the file -> line values."""
        if not isinstance(lines, dict):
            raise where_field("lines")(_("the lines are an object {code: value}"))
        value_type = vals.get("value_type") or vmap.value_type
        model = self.env["ir.model"].sudo().browse(vals.get("target_model_id")).model
        model = model or vmap.target_model
        line_vals = []
        for code, value in sorted(lines.items()):
            where = where_field(f"lines/{code}")
            if value_type == "char":
                if not isinstance(value, str) or not value:
                    raise where(_("a plain value map needs a text value"))
                line_vals.append({"external_code": code, "value_char": value})
                continue
            target = self._fi_decode_ref(model, value, where)
            line_vals.append(
                {"external_code": code, "value_ref": f"{target._name},{target.id}"}
            )
        return line_vals

    def _fi_apply_runbooks(self, key, runbook, values, where_field, note):
        Runbook = self.env["fi.reason.runbook"]
        values = dict(values)
        shared = values.pop("shared", False)
        vals = self._fi_decode_values(Runbook, values, where_field)
        vals["company_id"] = False if shared else self.env.company.id
        if runbook:
            runbook.write(vals)
        else:
            Runbook.create(vals)
