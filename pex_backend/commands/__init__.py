"""The `pexbin` commands around the build: list, peek, dependencies, run, lock, verify, cache, inspect-platform,
docs and schema. They use the backend and the pex part; neither imports them."""
