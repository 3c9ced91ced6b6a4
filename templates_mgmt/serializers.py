"""Request and response shapes of v1/template and v2/tempreview (seed 001's field names)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gm_server_notify.api.fields import IdField, SeedDateTimeField
from gm_server_notify.api.paging import OffsetPageSerializer, offset_list_schema
from templates_mgmt import selectors
from templates_mgmt.models import Template

TEMPLATE_TYPE = "模版类型: 1 验证码 (verify code), 2 通知 (notice), 3 营销 (marketing)"
TEMP_ID = "模版id唯一标识: a template of that signature"
SIGN_ID = "签名id唯一标识: one of your signatures"
REJECT_REASON = "拒绝通过的原因: why it is rejected (kept for rejected, cleared for passed)"


class TemplateWrite(serializers.Serializer):
    name = serializers.CharField(max_length=64, help_text="模版名称")
    template = serializers.CharField(
        trim_whitespace=False,
        help_text="模版内容: at most 500 characters, with numbered placeholders {1}, {2} …; no 【 or 】",
    )
    # The seed's body says string, its table int: both are taken; the value must be 1, 2 or 3.
    type = serializers.JSONField(
        source="template_type", help_text=TEMPLATE_TYPE + ", as a number or a numeric string"
    )
    description = serializers.CharField(max_length=255, help_text="申请理由简述: why it is needed")
    sign_id = IdField(help_text=SIGN_ID)


class TemplateUpdate(TemplateWrite):
    temp_id = IdField(help_text=TEMP_ID)


class TemplateDelete(serializers.Serializer):
    sign_id = IdField(help_text=SIGN_ID)
    temp_id = IdField(help_text=TEMP_ID)


class TemplateReview(serializers.Serializer):
    temp_id = IdField(help_text="模版唯一标识: any tenant's template")
    audit_status = serializers.CharField(
        max_length=16, help_text="模版审核状态, 仅可传入: passed or rejected"
    )
    reject_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=255, help_text=REJECT_REASON
    )


class TemplateListQuery(OffsetPageSerializer):
    pass


class TemplateSample(serializers.Serializer):
    text = serializers.CharField(
        help_text="the template signed and filled with `123456` for every placeholder"
    )
    encoding = serializers.ChoiceField(
        choices=["GSM-7", "UCS-2"], help_text="the alphabet it is billed in: GSM-7 only outside the mainland"
    )
    parts = serializers.IntegerField(help_text="the parts one such message is billed")


class TemplateOut(serializers.ModelSerializer):
    # The seed lists ids as strings.
    id = serializers.CharField(help_text="模版id: the temp_id, as a string")
    sign_id = serializers.CharField(help_text="模版绑定的签名ID, as a string")
    # Seed 001 types a template's times as strings (a signature's as int64): the station API's
    # format, China time.
    created_at = SeedDateTimeField(read_only=True, help_text="创建时间: Beijing time")
    updated_at = SeedDateTimeField(read_only=True, help_text="更新时间: Beijing time")
    sample = serializers.SerializerMethodField(
        help_text="added: the text a mainland number gets (`【signature】` + the template, every placeholder "
        "`123456`), its encoding and parts; null if the text does not parse"
    )
    sample_international = serializers.SerializerMethodField(
        help_text="added: the same for a number outside the mainland (`signature: ` + the template)"
    )

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
            "sample",
            "sample_international",
        ]
        extra_kwargs = {
            "name": {"help_text": "模版名称"},
            "audit_status": {"help_text": "审核状态: pending (new or edited), passed or rejected"},
            "reject_reason": {"help_text": "拒绝原因: why it was rejected; empty otherwise"},
            "type": {"help_text": TEMPLATE_TYPE},
            "template": {"help_text": "模版内容"},
            "description": {"help_text": "申请理由简述"},
        }

    @extend_schema_field(TemplateSample(allow_null=True))
    def get_sample(self, template: Template) -> dict[str, Any] | None:
        return selectors.template_sample(template, international=False)

    @extend_schema_field(TemplateSample(allow_null=True))
    def get_sample_international(self, template: Template) -> dict[str, Any] | None:
        return selectors.template_sample(template, international=True)


class TemplateIdOut(serializers.Serializer):
    temp_id = serializers.IntegerField(help_text="the template's id")


TemplateListOut = offset_list_schema("TemplateListOut", TemplateOut)
