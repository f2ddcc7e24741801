"""Which isolation repo code gets on this machine, asked without starting a worker.

The worker enters its namespaces itself (:mod:`hubcheck.worker.namespaces`, first
thing, while it is single-threaded) and reports what held in its hello; that is
what a validate report shows. :func:`probe` answers the same question ahead of
any run, for the pytest plugin's header, by running the worker's own code in a
bare interpreter: the namespaces cannot be tried in hubcheck's own process
without confining it, and forking a process that may hold threads is unsafe.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from hubcheck.worker.namespaces import FILESYSTEM_NONE, NETWORK_AUDIT_HOOK, Isolation

__all__ = ["Isolation", "probe"]

_NAMESPACES = Path(__file__).resolve().parent / "worker" / "namespaces.py"
_PROBE_TIMEOUT_S = 30.0
# Loads namespaces.py by path (the worker package's other modules are not needed) and prints what holds
# for a stand-in repo (argv[1], an empty directory) and its overlay's scratch directory (argv[2]).
_PROBE = """\
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("_hubcheck_namespaces", {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
print(json.dumps(module.enter(block_network=True, overlay=(sys.argv[1], sys.argv[2])).to_json()))
"""


def probe() -> Isolation:
    """The isolation a validate worker (network blocked, repo under an overlay) would get if started now."""
    try:
        with tempfile.TemporaryDirectory(prefix="hubcheck-probe-") as scratch:
            (Path(scratch) / "repo").mkdir()
            completed = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _PROBE.format(path=str(_NAMESPACES)), str(Path(scratch) / "repo"),
                 str(Path(scratch) / "overlay")],
                check=False, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL,
            )
        return Isolation.from_json(json.loads(completed.stdout))
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        return Isolation(NETWORK_AUDIT_HOOK, FILESYSTEM_NONE, f"could not probe for namespaces: {error}")
