"""Measurement: cross-validated evaluation, the latency harness, skew evidence and the environment record."""
