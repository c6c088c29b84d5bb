"""Prometheus: every metric Driftline exports, on a registry that is passed in."""
