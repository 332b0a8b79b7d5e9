"""Benchmarks (`make bench`): each prints its figures with the workload named."""
