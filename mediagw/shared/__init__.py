"""What one node kept in memory and several nodes must share (cluster.redis_url): each piece a Protocol with an
in-process implementation (the default) and a Redis one."""
