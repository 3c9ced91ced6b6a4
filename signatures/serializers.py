"""Request and response shapes of v1/signature and v2/signreview (seed 001's field names)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gm_server_notify.api.fields import IdField
from gm_server_notify.api.paging import OffsetPageSerializer
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


@extend_schema_field(OpenApiTypes.INT)
class UnixTimestampField(serializers.Field):
    """A datetime as Unix seconds (seed 001's ``created_at``/``updated_at``)."""

    def to_representation(self, value) -> int:  # noqa: ANN001 - DRF signature
        return int(value.timestamp())


class SignatureOut(serializers.ModelSerializer):
    # The seed lists ids as strings.
    id = serializers.CharField()
    created_at = UnixTimestampField()
    updated_at = UnixTimestampField()

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


class SignatureListOut(serializers.Serializer):
    items = SignatureOut(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()


class OkOut(serializers.Serializer):
    message = serializers.CharField(default="ok")
