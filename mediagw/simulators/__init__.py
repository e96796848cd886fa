"""Clients that behave as each ingress's real peer; used by the samples, the end-to-end tests and the benchmarks."""
