"""The version of pex-backend, read by setuptools when it builds pex-backend itself."""

__version__ = "0.1.0"
