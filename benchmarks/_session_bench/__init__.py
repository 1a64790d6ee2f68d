"""Parts of ``bench_session.py``."""
