"""Django admin for operators: stations, combos, recharges, send records, uplinks, tenant accounts
(with their capabilities and country allowlist), the pumping guard's prefix pauses (lifted from
here), tenants' webhook POSTs and events (dead events are redelivered from here), tenants' opt-outs.

Balances are never edited directly: recharges and charges go through the same ledger services
as the API, and phone numbers are masked in lists. Every operator write here (recharges, charges,
suspensions, capabilities, allowlists, lifted pauses, redeliveries, station and combo changes) is
written to the audit log (``audit``).
No ``date_hierarchy``: it needs MySQL's time zone tables (``CONVERT_TZ``), which a stock MariaDB
lacks; the date filters work without them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from audit.admin import AuditedChangesMixin
from audit.models import AuditAction
from audit.services import Actor
from gm_server_notify.errors import DomainError
from sms.core.phones import mask
from sms.guard import capabilities, countries
from sms.guard import services as guard_services
from sms.models import (
    AllowedCallingCode,
    BlocklistEntry,
    Combo,
    PrefixPause,
    RechargeRecord,
    SendRecord,
    Station,
    TenantAccount,
    TenantUsage,
    Uplink,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventState,
)
from sms.sending import suspension
from sms.station_api import services
from sms.tenant_api import services as tenant_services
from sms.webhooks import services as webhooks

# The admin's own names, for the header and the browser tab (Django's are "Django administration").
admin.site.site_header = "gm_server_notify · operators"
admin.site.site_title = "gm_server_notify admin"
admin.site.index_title = "Administration"


@admin.register(Station)
class StationAdmin(AuditedChangesMixin, admin.ModelAdmin):
    list_display = [
        "station_id",
        "station_name",
        "balance_nums",
        "total_recharge_nums",
        "total_recharge_money",
        "updated_at",
    ]
    search_fields = ["station_id", "station_name"]
    readonly_fields = [
        "balance_nums",
        "total_recharge_nums",
        "total_recharge_money",
        "created_at",
        "updated_at",
    ]

    audit_actions = {
        "add": AuditAction.STATION_CHANGE,
        "change": AuditAction.STATION_CHANGE,
        "delete": AuditAction.STATION_DELETE,
    }
    # The suspension service audits its own change (as a suspension or a resume).
    audit_ignored_fields = ("created_at", "updated_at", "suspended_reason")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a station is created by its first recharge

    def save_model(self, request: HttpRequest, obj: Station, form: Any, change: bool) -> None:
        """A reason in ``suspended_reason`` suspends the station through the suspension service
        (its unsent records fail and are refunded); emptying it resumes sending. The other
        fields are saved here (a station change in the audit log); the reason by the service."""
        reason = obj.suspended_reason
        suspending = "suspended_reason" in form.changed_data
        if suspending:
            obj.suspended_reason = form.initial.get("suspended_reason", "")
        super().save_model(request, obj, form, change)
        if suspending:
            failed = suspension.suspend_station(
                station_id=obj.station_id, reason=reason, actor=Actor.admin(request)
            )
            obj.suspended_reason = reason.strip()
            state = "suspended" if obj.suspended_reason.strip() else "resumed"
            self.message_user(
                request, f"{obj.station_id} {state}; {failed} unsent record(s) failed and refunded"
            )


@admin.register(Combo)
class ComboAdmin(AuditedChangesMixin, admin.ModelAdmin):
    list_display = ["id", "name", "price", "sms_nums", "unit_price", "is_custom", "is_active", "sort_order"]
    list_filter = ["is_active", "is_custom"]
    audit_actions = {
        "add": AuditAction.COMBO_ADD,
        "change": AuditAction.COMBO_CHANGE,
        "delete": AuditAction.COMBO_DELETE,
    }


class RechargeForm(forms.ModelForm):
    """A recharge booked by an operator: the station is given by id and created if new."""

    station_id = forms.CharField(max_length=32)

    class Meta:
        model = RechargeRecord
        fields = [
            "station_id",
            "combo",
            "recharge_nums",
            "recharge_money",
            "deal_code",
            "remark",
            "operator_name",
        ]

    def clean(self) -> dict[str, Any]:
        """The service's own checks, so a refused recharge is a form error, not a crash."""
        data = super().clean()
        if (
            data.get("combo")
            and data.get("recharge_nums") is not None
            and data.get("recharge_money") is not None
        ):
            try:
                services.validate_recharge(
                    combo_id=data["combo"].pk,
                    recharge_nums=data["recharge_nums"],
                    recharge_money=data["recharge_money"],
                )
            except DomainError as exc:
                field = {"combo_id": "combo"}.get(exc.field or "", exc.field)
                self.add_error(field if field in self.fields else None, exc.message)
        return data


@admin.register(RechargeRecord)
class RechargeRecordAdmin(admin.ModelAdmin):
    form = RechargeForm
    list_display = [
        "recharge_date",
        "station",
        "combo_name",
        "recharge_nums",
        "recharge_money",
        "deal_code",
        "operator_name",
        "client_name",
    ]
    list_filter = ["combo_name"]
    search_fields = ["station__station_id", "deal_code", "operator_name"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a booked recharge is part of the ledger's history

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RechargeRecord, form: RechargeForm, change: bool) -> None:
        """Book the recharge through the ledger service, exactly as the API does."""
        data = form.cleaned_data  # validated by RechargeForm.clean with the service's own checks
        record = services.recharge_station(
            station_id=data["station_id"],
            combo_id=data["combo"].pk,
            recharge_nums=data["recharge_nums"],
            recharge_money=Decimal(data["recharge_money"]),
            operator_name=data["operator_name"],
            deal_code=data.get("deal_code") or "",
            remark=data.get("remark") or "",
            client_name=f"admin:{request.user.get_username()}",
            actor=Actor.admin(request),
        )
        obj.pk = record.pk


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows operators read and never change here: every field read-only, no add, change or delete
    (they change through the services, or not at all)."""

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MaskedPhoneAdmin(ReadOnlyAdmin):
    """A read-only list of rows that hold a phone number: ``phone_field`` is shown masked
    (``masked_phone``), and ``full_number_fields`` (other fields that would show it) are left out,
    unless the operator has the ``sms.view_full_mobile`` permission."""

    phone_field = "phone"
    full_number_fields: tuple[str, ...] = ()

    @admin.display(description="phone")
    def masked_phone(self, obj: Any) -> str:
        return mask(getattr(obj, self.phone_field))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """The detail page: every field, the number masked unless the operator may see it."""
        fields = super().get_fields(request, obj)
        if request.user.has_perm("sms.view_full_mobile"):
            return fields
        return [
            "masked_phone" if name == self.phone_field else name
            for name in fields
            if name not in self.full_number_fields
        ]


@admin.register(SendRecord)
class SendRecordAdmin(MaskedPhoneAdmin):
    """Read-only: operators answer "why did this SMS not arrive" from here."""

    list_display = [
        "id",
        "station_id",
        "masked_phone",
        "business_type",
        "status",
        "state",
        "lane",
        "provider",
        "provider_code",
        "remark",
        "created_at",
    ]
    # test: test mode's records (docs/api-platform.md "Test mode"), provider sandbox.
    list_filter = ["status", "state", "lane", "provider", "business_type", "test", "created_at"]
    search_fields = ["=receive_phone", "=station_id", "=provider_message_id"]
    list_select_related = False
    show_full_result_count = False  # COUNT(*) over millions of rows on every page costs seconds

    phone_field = "receive_phone"
    full_number_fields = ("phone_e164",)


@admin.register(Uplink)
class UplinkAdmin(MaskedPhoneAdmin):
    """Read-only: every uplink (reply), matched or not, with the send it answers."""

    list_display = [
        "id",
        "provider",
        "masked_phone",
        "text",
        "sign",
        "extend",
        "received_at",
        "station_id",
        "tenant",
        "record_id",
    ]
    list_filter = ["provider", "test", "received_at"]
    # A number is searched whole (=phone: as the provider wrote it), the text by substring.
    search_fields = ["=phone", "=station_id", "=tenant__user__username", "text", "sign"]
    list_select_related = ["tenant__user"]
    show_full_result_count = False

    full_number_fields = ("raw",)  # the provider's raw push names the number too


class TenantAccountForm(forms.ModelForm):
    charge = forms.IntegerField(
        min_value=1, required=False, help_text="messages to add (booked in the ledger)"
    )

    class Meta:
        model = TenantAccount
        fields = [
            "charge",
            "suspended_reason",
            "price_fen_per_part",
            "daily_cap_parts",
            "monthly_cap_parts",
            *capabilities.FLAGS,
        ]


class AllowedCallingCodeForm(forms.ModelForm):
    class Meta:
        model = AllowedCallingCode
        fields = ["calling_code"]

    def clean_calling_code(self) -> int:
        try:
            return countries.check_calling_code(self.cleaned_data["calling_code"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


class AllowedCallingCodeInline(admin.TabularInline):
    """The tenant's country allowlist: one calling code a row (44 for +44). Saved through
    ``sms.guard.services`` (each add and removal audited), never directly."""

    model = AllowedCallingCode
    form = AllowedCallingCodeForm
    fields = ["calling_code", "created_at"]
    readonly_fields = ["created_at"]
    extra = 1
    verbose_name = "allowed calling code (international sends, +86 is always allowed)"


@admin.register(TenantAccount)
class TenantAccountAdmin(admin.ModelAdmin):
    form = TenantAccountForm
    inlines = [AllowedCallingCodeInline]
    list_display = [
        "user",
        "balance_nums",
        "price_fen_per_part",
        "daily_cap_parts",
        "monthly_cap_parts",
        "own_daily_cap_parts",
        "own_monthly_cap_parts",
        *capabilities.FLAGS,
        "updated_at",
    ]
    list_filter = list(capabilities.FLAGS)
    search_fields = ["user__username"]
    readonly_fields = [
        "user",
        "balance_nums",
        "own_daily_cap_parts",
        "own_monthly_cap_parts",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # an account is created by its first charge

    def save_model(
        self, request: HttpRequest, obj: TenantAccount, form: TenantAccountForm, change: bool
    ) -> None:
        """Charge through the same ledger service as ``v2/charge``; never save the balance directly."""
        charge = form.cleaned_data.get("charge")
        if charge:
            balance = tenant_services.charge_tenant(
                username=obj.user.username, charge=charge, actor=Actor.admin(request)
            )
            self.message_user(request, f"charged {charge}; balance now {balance}")
        if "suspended_reason" in form.changed_data:
            reason = form.cleaned_data.get("suspended_reason") or ""
            failed = suspension.suspend_tenant(account_id=obj.pk, reason=reason, actor=Actor.admin(request))
            self.message_user(
                request, f"{'suspended' if reason.strip() else 'resumed'}; {failed} record(s) failed"
            )
        if "price_fen_per_part" in form.changed_data:
            tenant_services.set_tenant_price(
                account_id=obj.pk,
                price_fen_per_part=form.cleaned_data.get("price_fen_per_part"),
                actor=Actor.admin(request),
            )
        flags = {flag: form.cleaned_data[flag] for flag in capabilities.FLAGS if flag in form.changed_data}
        if flags:
            changed = guard_services.set_capabilities(
                account_id=obj.pk, changes=flags, actor=Actor.admin(request)
            )
            if changed:
                shown = ", ".join(f"{flag} {'on' if on else 'off'}" for flag, on in changed.items())
                self.message_user(request, f"capabilities: {shown}")
        if {"daily_cap_parts", "monthly_cap_parts"} & set(form.changed_data):
            # One cap_change entry for both caps (sms.accounting.caps: the tenant's own lower caps,
            # read-only here, still hold where they are lower).
            tenant_services.set_operator_caps(
                account_id=obj.pk,
                daily=form.cleaned_data.get("daily_cap_parts"),
                monthly=form.cleaned_data.get("monthly_cap_parts"),
                actor=Actor.admin(request),
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The allowlist rows go through the guard's services, each add and removal audited; a
        changed row is the old code removed and the new one added."""
        if formset.model is not AllowedCallingCode:
            super().save_formset(request, form, formset, change)
            return
        actor, account_id = Actor.admin(request), form.instance.pk
        formset.save(commit=False)
        removed = [row.calling_code for row in formset.deleted_objects]
        added = [row.calling_code for row in formset.new_objects]
        for row, _ in formset.changed_objects:
            removed.append(AllowedCallingCode.objects.get(pk=row.pk).calling_code)
            added.append(row.calling_code)
        for code in removed:
            guard_services.disallow_calling_code(account_id=account_id, calling_code=code, actor=actor)
        for code in added:
            guard_services.allow_calling_code(account_id=account_id, calling_code=code, actor=actor)


@admin.register(PrefixPause)
class PrefixPauseAdmin(ReadOnlyAdmin):
    """The pumping guard's pauses (``sms.guard.pumping``), newest first: a tenant's sends to a
    number prefix that got too many verify codes within an hour. *Lift* resumes sends to the
    prefix at once (audited)."""

    list_display = [
        "id",
        "tenant",
        "prefix",
        "in_force",
        "codes",
        "limit",
        "started_at",
        "until",
        "lifted_at",
        "lifted_by",
    ]
    list_filter = ["started_at", "lifted_at"]
    search_fields = ["=tenant__user__username", "prefix"]
    list_select_related = ["tenant__user"]
    ordering = ["-started_at", "-id"]
    actions = ["lift_pauses"]

    @admin.display(boolean=True, description="in force")
    def in_force(self, pause: PrefixPause) -> bool:
        return pause.lifted_at is None and pause.until > timezone.now()

    @admin.action(description="Lift the selected pauses (sends to their prefixes resume)")
    def lift_pauses(self, request: HttpRequest, queryset: Any) -> None:
        actor = Actor.admin(request)
        lifted = sum(
            guard_services.lift_pause(pause_id=pk, actor=actor)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{lifted} pause(s) lifted")


@admin.register(TenantUsage)
class TenantUsageAdmin(ReadOnlyAdmin):
    """The parts each tenant reserved per China-time day and month, net of refunds: what its caps
    are checked against, and when the period's warning went out (sms.accounting.caps)."""

    list_display = ["tenant", "period", "start", "parts", "warned_at"]
    list_filter = ["period", "start"]
    search_fields = ["=tenant__user__username"]
    list_select_related = ["tenant__user"]
    show_full_result_count = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every webhook POST to a tenant's receiver: when, its answer, its error, how many events.
    *Redeliver dead events* gives the dead events of the chosen POSTs a new retry schedule."""

    list_display = ["id", "attempted_at", "tenant", "url", "outcome", "http_status", "error", "event_count"]
    list_filter = ["outcome", "attempted_at"]
    search_fields = ["=tenant__user__username", "url"]
    list_select_related = ["tenant__user"]
    show_full_result_count = False
    actions = ["redeliver_dead_events"]

    @admin.action(description="Redeliver the dead events of the selected POSTs")
    def redeliver_dead_events(self, request: HttpRequest, queryset: Any) -> None:
        ids = [
            event_id for event_ids in queryset.values_list("event_ids", flat=True) for event_id in event_ids
        ]
        count = webhooks.redeliver_dead(event_ids=ids, actor=Actor.admin(request))
        self.message_user(request, f"{count} dead event(s) queued again")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """The outbox: one event per tenant record that reached a final state (and per tenant notice:
    a cap's warning), and where it stands."""

    list_display = [
        "id",
        "tenant",
        "kind",
        "record_id",
        "url",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["state", "kind", "created_at"]
    search_fields = ["=id", "=record__id", "=tenant__user__username"]
    list_select_related = ["tenant__user"]
    show_full_result_count = False
    actions = ["redeliver_dead_events"]

    @admin.action(description="Redeliver the selected dead events")
    def redeliver_dead_events(self, request: HttpRequest, queryset: Any) -> None:
        ids = list(queryset.filter(state=WebhookEventState.DEAD).values_list("id", flat=True))
        count = webhooks.redeliver_dead(event_ids=ids, actor=Actor.admin(request))
        self.message_user(request, f"{count} dead event(s) queued again")


@admin.register(BlocklistEntry)
class BlocklistEntryAdmin(MaskedPhoneAdmin):
    """Every tenant's opt-outs (read-only: a tenant removes its own with ``DELETE v1/blocklist``):
    the number (masked unless the operator may see full numbers), the signature (0: every
    signature of the tenant), and where it came from (the reply's text and time, or the API)."""

    list_display = ["id", "tenant", "sign_id", "masked_phone", "source", "source_text", "source_at"]
    list_filter = ["source", "source_at"]
    search_fields = ["=phone_e164", "=tenant__user__username"]
    list_select_related = ["tenant__user"]
    show_full_result_count = False

    phone_field = "phone_e164"
