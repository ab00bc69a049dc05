"""Throwaway Redis servers and clusters for the tests, the demo and the benchmarks
(not part of the installed package)."""
