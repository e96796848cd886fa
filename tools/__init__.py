"""Maintenance scripts (not shipped): run with `python -m tools.<name>`."""
