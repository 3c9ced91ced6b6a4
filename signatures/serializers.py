"""Request and response shapes of v1/signature and v2/signreview (seed 001's field names)."""

from __future__ import annotations

from rest_framework import serializers

from gm_server_notify.api.fields import IdField, UnixSecondsField
from gm_server_notify.api.paging import OffsetPageSerializer, offset_list_schema
from signatures.models import Signature


class SignatureWrite(serializers.Serializer):
    signature = serializers.CharField(
        max_length=32, help_text="stored without its enclosing 【】 or []; no bracket inside the name"
    )
    source = serializers.CharField(max_length=128)
    pics = serializers.ListField(
        child=serializers.CharField(max_length=512), required=False, default=list, max_length=20
    )


class SignatureUpdate(SignatureWrite):
    sign_id = IdField()


class SignatureDelete(serializers.Serializer):
    sign_id = IdField()


class SignatureReview(serializers.Serializer):
    sign_id = IdField()
    audit_status = serializers.CharField(max_length=16, help_text="passed or rejected")
    reject_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class SignatureListQuery(OffsetPageSerializer):
    pass


class SignatureOut(serializers.ModelSerializer):
    # The seed lists ids as strings.
    id = serializers.CharField()
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


class SignatureIdOut(serializers.Serializer):
    sign_id = serializers.IntegerField()


SignatureListOut = offset_list_schema("SignatureListOut", SignatureOut)
