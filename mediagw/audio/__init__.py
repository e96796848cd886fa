"""Codecs that turn ingress payloads into the 8 kHz 16-bit PCM of asr.frame."""
