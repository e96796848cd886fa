"""Outputs: the transcript store, webhook publisher and batch export."""
