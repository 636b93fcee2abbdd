from setuptools import Extension, setup

setup(ext_modules=[Extension("compiled._speed", ["compiled/_speed.c"])])
