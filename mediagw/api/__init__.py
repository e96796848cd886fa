"""HTTP routes: stream URLs, health, metrics; authentication and the documented error shape."""
