"""Code that runs inside the worker process, next to the repo's code.

The worker may run under another interpreter (``--python``) where hubcheck is
not installed, so it is loaded from its files under a private module name and
imports nothing but the standard library, torch and safetensors; modules in
this package refer to each other with relative imports only.
"""
