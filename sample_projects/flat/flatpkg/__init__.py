"""A package in a flat layout."""
