"""Measurement: cross-validated evaluation, the latency harness and the environment record."""
