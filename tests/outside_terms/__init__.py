"""A package outside gaespec that adds a term kind, as a user's own would (see test_outside.py)."""
