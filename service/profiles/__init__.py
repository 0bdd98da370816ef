"""Bucket profiles computed where the data lives and uploaded (``POST …/profiles``)."""
