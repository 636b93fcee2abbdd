"""A sample project built by hatchling through pex-backend's `delegate-backend`."""
