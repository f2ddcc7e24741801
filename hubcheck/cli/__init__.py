"""The ``hubcheck`` command line."""

from hubcheck.cli.app import console_main, main

__all__ = ["console_main", "main"]
