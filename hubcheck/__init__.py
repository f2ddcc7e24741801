"""hubcheck: check PyTorch Hub repositories before their users do.

This module stays import-light on purpose: the CLI, the pytest plugin and the
worker that runs inside other interpreters all import it, and none of them may
pay for torch or for repo code here.
"""

__version__ = "0.1.0"
