"""The ``hubcheck`` command line."""

from hubcheck.cli.app import main

__all__ = ["main"]
