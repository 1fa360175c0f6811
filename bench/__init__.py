"""Benchmarks: each bench_*.py compares with its peers in one run and prints ratios."""
