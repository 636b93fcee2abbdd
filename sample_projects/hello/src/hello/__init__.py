"""A sample project: a console script, a module entry point and a file entry point."""
