"""Parts of ``bench_breakdown.py``."""
