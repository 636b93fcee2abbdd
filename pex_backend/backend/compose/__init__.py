"""Pex does the work: one resolve per group (or the cache's), then each binary from those pre-resolved wheels."""
