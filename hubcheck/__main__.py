"""``python -m hubcheck``: the same entry point as the ``hubcheck`` console script."""

from hubcheck.cli import console_main

if __name__ == "__main__":
    console_main()
