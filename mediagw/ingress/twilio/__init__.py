"""Twilio Media Streams ingress: the WebSocket a <Start><Stream> or <Connect><Stream> forks call audio to."""
