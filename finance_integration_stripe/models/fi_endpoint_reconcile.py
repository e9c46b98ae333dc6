# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from odoo import _, api, fields, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)
from odoo.addons.finance_integration_core.models.fi_exception import OPEN_STATES

from ..lib.api import StripeBusinessError
from ..lib.money import minor_to_decimal
from ..lib.reconcile import compare
from .fi_stripe_reconciliation import KIND_COLUMNS

#: Stripe objects of a day, the binding their posting is bound by, the sign
RECONCILED_OBJECTS = (
    ("/v1/charges", "payment_intent", 1),
    ("/v1/refunds", "refund", -1),
    ("/v1/invoices", "invoice", 1),
)


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_reconcile_grace_hours = fields.Integer(
        "Reconciliation Grace (h)",
        default=2,
        help="A day is reconciled this many hours after its end (company time "
        "zone), so that events still in flight are in Odoo.",
    )
    stripe_reconciled_day = fields.Date(
        "Last Reconciled Day", readonly=True, copy=False
    )

    def _fi_stripe_tz(self):
        return ZoneInfo(
            self.company_id.partner_id.tz or self.responsible_id.tz or "UTC"
        )

    def _fi_stripe_day_window(self, day):
        """Unix times of the start and end of ``day`` in the company's zone."""
        tz = self._fi_stripe_tz()
        start = datetime.combine(day, time.min, tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
        return int(start.timestamp()), int(end.timestamp())

    def _fi_stripe_stripe_rows(self, start, end):
        """Stripe's charges, refunds and invoices created in ``[start, end)``
        as reconciliation rows (those this connector books)."""
        api = self._fi_stripe_api()
        rows, refunds = [], []
        for path, kind, sign in RECONCILED_OBJECTS:
            params = {"created": {"gte": start, "lt": end}}
            for obj in api.iterate(path, params):
                if kind == "payment_intent":
                    if not obj.get("paid") or not obj.get("payment_intent"):
                        continue
                    if self._fi_stripe_foreign_payment(obj):
                        continue  # ignored by the payment flow: not booked here
                    key = obj["payment_intent"]
                    amount = obj.get("amount_captured", obj.get("amount"))
                elif kind == "refund":
                    if obj.get("status") in ("succeeded", "pending"):
                        refunds.append(obj)  # once the foreign ones are known
                    continue
                else:
                    if obj.get("status") in ("draft", "void"):
                        continue
                    key, amount = obj["id"], obj["total"]
                rows.append(((kind, key), obj["currency"], sign * int(amount)))
        foreign = self._fi_stripe_foreign_refunds(refunds)
        rows.extend(
            (("refund", refund["id"]), refund["currency"], -int(refund["amount"]))
            for refund in refunds
            if refund["id"] not in foreign
        )
        return rows

    def _fi_stripe_foreign_refunds(self, refunds):
        """The ids of ``refunds`` that the refund flow ignores (a refund of a
        payment that is not this connector's: another application's, a
        card-present one, a charge without PaymentIntent); a refund bound in
        Odoo is ours without asking Stripe."""
        bound = set(
            self.env["fi.binding"]
            .sudo()
            .search(
                [
                    ("endpoint_id", "=", self.id),
                    ("external_type", "=", "refund"),
                    ("external_id", "in", [refund["id"] for refund in refunds]),
                ]
            )
            .mapped("external_id")
        )
        return {
            refund["id"]
            for refund in refunds
            if refund["id"] not in bound
            and (refund.get("charge") or refund.get("payment_intent"))
            and self._fi_stripe_foreign_refund(refund)
        }

    def _fi_stripe_odoo_rows(self, keys, day):
        """What Odoo booked for ``keys`` (bound payments, refunds, invoices),
        and the payments and refunds this endpoint bound during ``day`` that
        Stripe does not list for it (missing on Stripe's side)."""
        bindings = self.env["fi.binding"].sudo()
        rows = []
        bound = bindings.search(
            [
                ("endpoint_id", "=", self.id),
                ("external_type", "in", [k for _p, k, _s in RECONCILED_OBJECTS]),
                ("external_id", "in", [key[1] for key in keys]),
            ]
        )
        seen = set()
        for binding in bound:
            key = (binding.external_type, binding.external_id)
            record = self.env[binding.res_model].browse(binding.res_id).exists()
            if key not in keys or not record:
                continue
            seen.add(record)
            rows.append(self._fi_stripe_odoo_row(key, record))
        # bound during the day but not listed by Stripe for it: a charge of
        # the day before processed after midnight (Stripe says when it was
        # created), or a posting Stripe does not know at all
        start, end = self._fi_stripe_day_window(day)
        late = bindings.search(
            [
                ("endpoint_id", "=", self.id),
                ("external_type", "in", ("payment_intent", "refund")),
                (
                    "create_date",
                    ">=",
                    datetime.fromtimestamp(start, UTC).replace(tzinfo=None),
                ),
                (
                    "create_date",
                    "<",
                    datetime.fromtimestamp(end, UTC).replace(tzinfo=None),
                ),
            ]
        )
        for binding in late:
            key = (binding.external_type, binding.external_id)
            record = self.env[binding.res_model].browse(binding.res_id).exists()
            if key in keys or not record or record in seen:
                continue
            if record._name != "account.payment" or record.state in (
                "draft",
                "canceled",
            ):
                continue
            try:
                obj = self._fi_stripe_fetch(binding.external_type, binding.external_id)
            except StripeBusinessError as err:
                if err.error.get("code") != "resource_missing":
                    raise
                obj = None
            if obj is not None and not start <= int(obj.get("created") or 0) < end:
                continue  # Stripe's object of another day, booked on this one
            rows.append(self._fi_stripe_odoo_row(key, record))
        return rows

    def _fi_stripe_odoo_row(self, key, record):
        code = record.currency_id.name.lower()
        if record._name == "account.payment":
            amount = record.amount if record.state != "canceled" else 0.0
            sign = 1 if record.payment_type == "inbound" else -1
        else:
            amount = record.amount_total if record.state == "posted" else 0.0
            sign = 1 if record.move_type == "out_invoice" else -1
        return key, code, sign * self._fi_stripe_to_minor(amount, code)

    def _fi_stripe_reconcile_day(self, day):
        """Stripe's charges, refunds and invoices created on ``day`` (company
        time zone) against Odoo's payments, refunds and invoices: missing or
        different on either side opens (or updates) one finance exception for
        the day; totals per currency go to the audit trail and the result."""
        self.ensure_one()
        start, end = self._fi_stripe_day_window(day)
        stripe_rows = self._fi_stripe_stripe_rows(start, end)
        keys = {key for key, _c, _a in stripe_rows}
        result = compare(stripe_rows, self._fi_stripe_odoo_rows(keys, day))
        totals = {
            code.upper(): {
                KIND_COLUMNS[kind]: {
                    side: str(minor_to_decimal(abs(amount), code))
                    for side, amount in sides.items()
                }
                for kind, sides in kinds.items()
            }
            for code, kinds in result.totals.items()
        }
        case = self._fi_stripe_case(
            "reconciliation",
            day.isoformat(),
            "stripe_reconciliation",
            self._fi_stripe_reconcile_text(day, result) if result else "",
        )
        register = self.env["fi.stripe.reconciliation"]._fi_record_day(
            self, day, result, case if result else None
        )
        self.env["fi.audit"]._fi_event(
            "stripe.day_reconciled",
            _("Stripe day %s reconciled", day),
            record=self,
            endpoint=self,
            facts={
                "day": day.isoformat(),
                "totals": totals,
                "missing_in_odoo": len(result.missing_in_odoo),
                "missing_in_stripe": len(result.missing_in_stripe),
                "different": len(result.different),
            },
        )
        return {
            "totals": totals,
            "result": result,
            "exception": case or None,
            "register": register,
        }

    def _fi_stripe_case(self, external_type, key, reason_code, detail):
        """The one finance exception of a recurring check (a day reconciled,
        the balance checked), bound as ``external_type`` / ``key``: with a
        ``detail``, the open one is updated, else one is opened (bound again
        when an earlier one was closed); without, the open one is resolved.
        Returns the item (empty when there never was one)."""
        binding = self.env["fi.binding"]
        case = binding.to_odoo(self, external_type, key) or self.env["fi.exception"]
        if detail:
            if case and case.state in OPEN_STATES:
                case.sudo().write({"detail": detail})
                case.sudo()._message_log(body=_("Checked again: %s", detail[:500]))
                return case
            case = self.env["fi.exception"]._fi_open_for(
                reason_code, detail, endpoint=self, record=self
            )
            closed = binding._fi_find(self, external_type, key)
            if closed:  # a difference again after it was resolved
                closed.write({"res_id": case.id})
            else:
                binding.bind(self, external_type, key, case)
        elif case and case.state in OPEN_STATES:
            case.sudo().write(
                {
                    "state": "resolved",
                    "date_closed": fields.Datetime.now(),
                    "resolution_note": _("Checked again: no difference left."),
                }
            )
        return case

    def _fi_stripe_reconcile_text(self, day, result):
        def money(code, amount):
            return f"{minor_to_decimal(amount, code)} {code.upper()}"

        lines = [_("Stripe and Odoo differ on %s:", day)]
        for (kind, key), code, amount in result.missing_in_odoo:
            lines.append(
                _(
                    "- %(kind)s %(key)s: %(amount)s in Stripe, not in Odoo",
                    kind=kind,
                    key=key,
                    amount=money(code, amount),
                )
            )
        for (kind, key), code, amount in result.missing_in_stripe:
            lines.append(
                _(
                    "- %(kind)s %(key)s: %(amount)s in Odoo, not in Stripe that day",
                    kind=kind,
                    key=key,
                    amount=money(code, amount),
                )
            )
        for (kind, key), code, theirs, ours in result.different:
            lines.append(
                _(
                    "- %(kind)s %(key)s: Stripe %(theirs)s, Odoo %(ours)s",
                    kind=kind,
                    key=key,
                    theirs=money(code, theirs),
                    ours=money(code, ours),
                )
            )
        labels = {
            "invoice": _("billed"),
            "payment_intent": _("paid"),
            "refund": _("refunded"),
        }
        for code, kinds in result.totals.items():
            for kind, sides in kinds.items():
                lines.append(
                    _(
                        "Total %(cur)s %(kind)s: Stripe %(theirs)s, Odoo %(ours)s",
                        cur=code.upper(),
                        kind=labels[kind],
                        theirs=money(code, abs(sides["stripe"])),
                        ours=money(code, abs(sides["odoo"])),
                    )
                )
        return "\n".join(lines)

    @api.model
    def _cron_fi_stripe_reconcile(self):
        """Reconcile, per active Stripe endpoint, every day whose end plus
        the grace period has passed since the last reconciled one (a week at
        most)."""
        for endpoint in self.search(
            [("provider", "=", "stripe"), ("state", "=", "active")]
        ):
            tz = endpoint._fi_stripe_tz()
            grace = timedelta(hours=endpoint.stripe_reconcile_grace_hours or 0)
            last = (datetime.now(UTC).astimezone(tz) - grace).date() - timedelta(1)
            day = max(
                (endpoint.stripe_reconciled_day or last - timedelta(1)) + timedelta(1),
                last - timedelta(6),
            )
            while day <= last:
                try:
                    with self.env.cr.savepoint():
                        endpoint._fi_stripe_reconcile_day(day)
                        endpoint.sudo().stripe_reconciled_day = day
                except (FiBusinessError, FiTransientError) as err:
                    endpoint.message_post(
                        body=_("Stripe reconciliation of %s failed: %s", day, err)
                    )
                    break
                day += timedelta(1)
