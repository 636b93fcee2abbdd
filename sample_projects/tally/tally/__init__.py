"""A setup.cfg/setup.py project with several console scripts."""
