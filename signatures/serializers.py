"""Request and response shapes of v1/signature and v2/signreview (seed 001's field names)."""

from __future__ import annotations

from rest_framework import serializers

from gm_server_notify.api.fields import IdField, UnixSecondsField
from gm_server_notify.api.paging import OffsetPageSerializer, offset_list_schema
from signatures.models import Signature

SIGN_ID = "签名id唯一标识: one of your signatures"
REJECT_REASON = "拒绝通过的原因: why it is rejected (kept for rejected, cleared for passed)"
AUDIT_STATUS = "审核状态: pending (new or edited), passed or rejected"


class SignatureWrite(serializers.Serializer):
    signature = serializers.CharField(
        max_length=32,
        help_text="签名内容: stored without its enclosing 【】 or []; no bracket inside the name",
    )
    source = serializers.CharField(max_length=128, help_text="签名来源: e.g. 营业执照 (business licence)")
    pics = serializers.ListField(
        child=serializers.CharField(max_length=512),
        required=False,
        default=list,
        max_length=20,
        help_text="资质证明: up to 20 proofs (URLs)",
    )


class SignatureUpdate(SignatureWrite):
    sign_id = IdField(help_text=SIGN_ID)


class SignatureDelete(serializers.Serializer):
    sign_id = IdField(help_text=SIGN_ID)


class SignatureReview(serializers.Serializer):
    sign_id = IdField(help_text="签名唯一标识: any tenant's signature")
    audit_status = serializers.CharField(max_length=16, help_text="签名状态, 仅可传入: passed or rejected")
    reject_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=255, help_text=REJECT_REASON
    )


class SignatureListQuery(OffsetPageSerializer):
    pass


class SignatureOut(serializers.ModelSerializer):
    # The seed lists ids as strings.
    id = serializers.CharField(help_text="the sign_id, as a string")
    created_at = UnixSecondsField(help_text="Unix seconds")
    updated_at = UnixSecondsField(help_text="Unix seconds")

    class Meta:
        model = Signature
        fields = [
            "id",
            "signature",
            "source",
            "pics",
            "audit_status",
            "reject_reason",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "signature": {"help_text": "签名内容, without brackets"},
            "source": {"help_text": "签名来源"},
            "pics": {"help_text": "资质证明"},
            "audit_status": {"help_text": AUDIT_STATUS},
            "reject_reason": {"help_text": REJECT_REASON},
        }


class SignatureIdOut(serializers.Serializer):
    sign_id = serializers.IntegerField(help_text="the signature's id")


SignatureListOut = offset_list_schema("SignatureListOut", SignatureOut)
