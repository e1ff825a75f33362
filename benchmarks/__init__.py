"""Benchmark suite: `python benchmarks/run.py --help`."""
