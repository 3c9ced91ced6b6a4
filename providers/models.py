"""The providers app has no tables: it parses and answers the vendors. Uplinks, which it used to
keep here (``tbl_sms_inbound``), are stored and matched by the sms app (``sms.models.Uplink``)."""
