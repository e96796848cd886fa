"""mediagw: a self-hosted real-time media gateway and speech pipeline (see README.md and docs/architecture.md)."""
