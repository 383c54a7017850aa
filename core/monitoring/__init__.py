"""Serving metrics: what the estate exports, what Prometheus answers, drift and canary statistics."""
