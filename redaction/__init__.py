"""Text post-processing between ASR and every output: formatting now; PCI/PII redaction builds on it."""
