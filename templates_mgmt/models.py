"""Tables of the templates app (seed 001)."""

from django.conf import settings
from django.db import models

from signatures.models import AuditStatus, Signature


class TemplateType(models.IntegerChoices):
    VERIFICATION = 1, "验证码"
    NOTICE = 2, "通知"
    MARKETING = 3, "营销"


class Template(models.Model):
    """A tenant's message template under one of its signatures; may hold ``{1}``, ``{2}`` …"""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sms_templates"
    )
    sign = models.ForeignKey(Signature, on_delete=models.PROTECT, related_name="templates")
    name = models.CharField(max_length=64)
    template = models.TextField()
    type = models.PositiveSmallIntegerField(choices=TemplateType.choices)
    description = models.CharField(max_length=255)
    audit_status = models.CharField(max_length=16, choices=AuditStatus.choices, default=AuditStatus.PENDING)
    reject_reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tbl_template"
        indexes = [models.Index(fields=["owner", "id"], name="template_owner_idx")]

    def __str__(self) -> str:
        return self.name
