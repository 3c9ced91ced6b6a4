"""Operators' alerts (docs/operations.md, "Alerts"): rules measured from the live tables
(``rules``), evaluated by beat into ``Alert`` rows that open once, remind at most hourly and
resolve themselves (``services``), noticed by email and an operator webhook (``notify``), listed
and acknowledged in the console (``views``) and exposed as gauges at /metrics (``metrics``)."""
