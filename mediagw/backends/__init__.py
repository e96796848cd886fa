"""Shared backends of a cluster: the Redis link and the remote ASR client."""
