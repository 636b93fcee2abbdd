"""How pex is run, and what it made kept: the workers that run pex's command line, the compiled copy of pex, the
build cache, PEX-INFO, PEX files derived or spliced from a sibling pex built, and pex's failures as our errors.

Imports nothing of the backend or the commands."""
