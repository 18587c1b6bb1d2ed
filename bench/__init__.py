"""Benchmarks: every scenario of the platform measured beside its floor (see bench/README.md)."""
