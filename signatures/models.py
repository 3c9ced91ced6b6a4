"""Tables of the signatures app (seed 001)."""

from django.conf import settings
from django.db import models


class AuditStatus(models.TextChoices):
    """Review state shared by signatures and templates."""

    PENDING = "pending", "waiting for review"
    PASSED = "passed", "passed"
    REJECTED = "rejected", "rejected"


class Signature(models.Model):
    """A tenant's SMS signature (the 【name】 a message starts with), reviewed by root."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signatures")
    signature = models.CharField(max_length=32)
    source = models.CharField(max_length=128)
    pics = models.JSONField(default=list, blank=True, help_text="qualification proofs (URLs)")
    audit_status = models.CharField(max_length=16, choices=AuditStatus.choices, default=AuditStatus.PENDING)
    reject_reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tbl_signature"
        indexes = [models.Index(fields=["owner", "id"], name="signature_owner_idx")]

    def __str__(self) -> str:
        return f"【{self.signature}】"
