"""Unit tests of sms/delivery/reports.py: reports move records to their final state once."""
