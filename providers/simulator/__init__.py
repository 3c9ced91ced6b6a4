"""A loopback HTTP server that stands in for every SMS provider (see docs/providers.md)."""
