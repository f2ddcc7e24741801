"""A pytest plugin for the collection benchmark (``-p collection_probe``, with benchmarks/ on PYTHONPATH).

Every pytest process of the run (the only one, or each xdist worker) writes
``$HUBCHECK_BENCH_PROBE/<process>.json`` once it has collected: how many items,
a digest of their ids in order (equal digests: the workers collected the same
items in the same order), seconds from this plugin's import to the end of
collection, and the process's own peak resident memory (not its children's:
hubcheck's worker is another process).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from pathlib import Path

import pytest

_STARTED = time.perf_counter()
_ids: list[str] = []


def pytest_itemcollected(item: pytest.Item) -> None:
    # Before any deselection, which is how the benchmark keeps xdist workers from running anything.
    _ids.append(item.nodeid)


def pytest_collection_finish(session: pytest.Session) -> None:
    directory = os.environ.get("HUBCHECK_BENCH_PROBE")
    if not directory:
        return
    # Not $PYTEST_XDIST_WORKER: a benchmark run from inside an xdist worker (CI's smoke test) inherits it.
    worker_input = getattr(session.config, "workerinput", None)
    process = worker_input["workerid"] if worker_input else "main"
    Path(directory, f"{process}.json").write_text(json.dumps({
        "items": len(_ids),
        "digest": hashlib.sha256("\n".join(_ids).encode()).hexdigest(),
        "seconds": time.perf_counter() - _STARTED,
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
