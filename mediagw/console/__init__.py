"""The ops console: live calls, a call's transcripts and start/stop, and health plots, served at /console/."""
