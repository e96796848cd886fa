"""Ingress adapters: each turns one protocol into (call, role, PCM frames, media clock)."""
