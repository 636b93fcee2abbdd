"""A sample project whose PEX files show what each [tool.pexbin] field does."""
