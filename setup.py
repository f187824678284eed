"""The package's one compiled part: the PyEval_CallObject shim for durable-rules on
Python 3.13+ (compliance/durable_shim.c; why: docs/python-versions.md). Everything else
is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("compliance._durable_shim", sources=["compliance/durable_shim.c"],
                             depends=["compliance/durable_shim.h"])])
