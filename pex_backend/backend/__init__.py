"""The build: the `[tool.pexbin]` model (`config`), the plan of one spec per PEX, the project's wheel (setuptools'
or the delegate's), the PEX files pex composes from it (`compose`), and the build record with its SBOMs.

Imports the pex part, never a command."""
