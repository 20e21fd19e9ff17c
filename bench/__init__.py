"""Benchmarks and their seeded workload generators (not tests)."""
