"""`python -m compliance` is the `compliance` command."""

from .cli import main

main()
