"""Plumbing for the notebooks' labs: what would make a teaching cell too long.

Thread harnesses, throwaway-server setups and crash helpers that a lab runs but does
not teach. They are not part of the patterns API (copy the patterns, not these); each
module serves one chapter and is tested in ``tests/``.
"""
