"""Handlers for the example specs in specs/: small, real functions."""
