"""Speech recognition: VAD segmentation and the faster-whisper worker pool. Knows nothing of mediagw."""
