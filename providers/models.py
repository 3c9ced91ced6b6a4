"""Tables of the providers app."""

from django.db import models


class InboundSms(models.Model):
    """An uplink (reply) SMS a provider passed on, pushed or pulled."""

    provider = models.CharField(max_length=16)
    phone = models.CharField(max_length=24)
    text = models.TextField()
    sign = models.CharField(max_length=64, blank=True, default="")
    extend = models.CharField(max_length=32, blank=True, default="")
    received_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tbl_sms_inbound"
        indexes = [models.Index(fields=["phone", "created_at"], name="inbound_phone_idx")]

    def __str__(self) -> str:
        return f"inbound {self.pk} via {self.provider}"
