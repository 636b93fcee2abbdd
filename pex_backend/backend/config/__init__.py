"""What the build is told: the `[tool.pexbin]` table as one typed model, the project's pyproject.toml, and the
`pexbin.*` config settings."""
