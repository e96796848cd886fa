"""Amazon Connect ingress: call audio read from Kinesis Video Streams GetMedia (a stream of MKV fragments)."""
