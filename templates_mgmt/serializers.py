"""Request and response shapes of v1/template and v2/tempreview (seed 001's field names)."""

from __future__ import annotations

from rest_framework import serializers

from gm_server_notify.api.fields import IdField, SeedDateTimeField
from gm_server_notify.api.paging import OffsetPageSerializer, offset_list_schema
from templates_mgmt.models import Template


class TemplateWrite(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    template = serializers.CharField(trim_whitespace=False, help_text="may hold {1}, {2} …")
    # The seed's body says string, its table int: both are taken; the value must be 1, 2 or 3.
    type = serializers.JSONField(source="template_type", help_text="1 验证码, 2 通知, 3 营销")
    description = serializers.CharField(max_length=255)
    sign_id = IdField()


class TemplateUpdate(TemplateWrite):
    temp_id = IdField()


class TemplateDelete(serializers.Serializer):
    sign_id = IdField()
    temp_id = IdField()


class TemplateReview(serializers.Serializer):
    temp_id = IdField()
    audit_status = serializers.CharField(max_length=16, help_text="passed or rejected")
    reject_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class TemplateListQuery(OffsetPageSerializer):
    pass


class TemplateOut(serializers.ModelSerializer):
    # The seed lists ids as strings.
    id = serializers.CharField()
    sign_id = serializers.CharField()
    # Seed 001 types a template's times as strings (a signature's as int64): the station API's
    # format, China time.
    created_at = SeedDateTimeField(read_only=True)
    updated_at = SeedDateTimeField(read_only=True)

    class Meta:
        model = Template
        fields = [
            "id",
            "name",
            "audit_status",
            "reject_reason",
            "type",
            "sign_id",
            "template",
            "description",
            "created_at",
            "updated_at",
        ]


class TemplateIdOut(serializers.Serializer):
    temp_id = serializers.IntegerField()


TemplateListOut = offset_list_schema("TemplateListOut", TemplateOut)
