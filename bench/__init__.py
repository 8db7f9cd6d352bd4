"""Benchmark and soak run of the real bot process against the loopback fakes (`python -m bench`)."""
