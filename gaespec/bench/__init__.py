"""Benchmarks over the model zoo: tables a command writes."""
