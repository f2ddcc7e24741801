"""hubcheck: check PyTorch Hub repositories before their users do.

The Python API, for scripts and other tools::

    import hubcheck

    repo = hubcheck.resolve_repo("owner/name:main")     # or a directory, or git+URL@REF
    findings = hubcheck.lint_repo(repo.path).findings   # static: no repo code runs
    report = hubcheck.validate_repo(repo)               # runs entry points in a worker
    print(report.exit_code, report.to_json())

This module stays import-light on purpose: the CLI, the pytest plugin and the
worker that runs inside other interpreters all import it, so the API's names
are loaded on first use.
"""

import sys

# `python -m hubcheck` puts the working directory, often the hub repo being checked, at
# sys.path[0]: a repo's typing.py or rich.py would then run inside hubcheck's process
# as soon as hubcheck imported its namesake. While `-m` is still locating this package
# (sys.argv[0] is "-m" until then), nothing but builtins has been imported from here,
# so dropping that entry now keeps every later import off the repo.
if sys.argv[:1] == ["-m"] and sys.path and sys.path[0] in ("", sys.modules["os"].getcwd()):
    del sys.path[0]

# Imports only after the working directory has left sys.path.
import importlib
from typing import Any

__version__ = "0.1.0"

# Name -> module. `resolve_repo` is `hubcheck.resolve.resolve`: a bare `resolve`
# would be shadowed by the submodule of that name once it is imported.
_API = {
    "resolve_repo": "hubcheck.resolve:resolve",
    "ResolvedRepo": "hubcheck.resolve",
    "read_hubconf": "hubcheck.static",
    "HubconfModel": "hubcheck.static",
    "lint_repo": "hubcheck.lint",
    "LintResult": "hubcheck.lint",
    "load_config": "hubcheck.config",
    "validate_repo": "hubcheck.validate",
    "ValidateOptions": "hubcheck.validate",
    "ValidationSession": "hubcheck.validate",
    "record_references": "hubcheck.record",
    "Report": "hubcheck.results",
    "CheckResult": "hubcheck.results",
    "Status": "hubcheck.results",
    "Finding": "hubcheck.findings",
    "Severity": "hubcheck.findings",
    "HubcheckError": "hubcheck.errors",
    "ExitCode": "hubcheck.errors",
}

__all__ = ["__version__", *_API]  # noqa: PLE0604 - the names _API maps to their modules


def __getattr__(name: str) -> Any:
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'hubcheck' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute or name)


def __dir__() -> list[str]:
    return sorted(__all__)
