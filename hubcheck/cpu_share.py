"""How many intra-op threads each hubcheck worker gets when pytest-xdist runs several of them on one machine.

torch sizes its intra-op thread pool to every core it may run on. Under
``pytest -n N`` each of the N xdist workers starts its own hubcheck worker, so N
pools of C threads share C cores: the threads of one forward wait for cores the
other workers hold, and OpenMP's threads spin between parallel regions on CPU
another entry point could use (on 2 cores, ``-n 2`` did 1.3x the CPU work of
``-n 0`` on small models). Each hubcheck worker gets ``max(1, C // N)`` threads
instead, N being the xdist workers on its machine. A user's own
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is left to torch, which reads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Protocol

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""What torch sizes its intra-op pool by when set; a user who set one has chosen."""


class GatewaySpec(Protocol):
    """What :func:`place` reads of an execnet ``XSpec`` (unset keys read as None)."""

    ssh: str | None
    socket: str | None
    via: str | None


def place(spec: GatewaySpec) -> str:
    """The machine an xdist worker's gateway runs on, as far as its spec tells: its ssh host, its socket server's
    host, the gateway it is reached through, else this one (``popen``)."""
    if spec.ssh:
        return f"ssh:{spec.ssh}"
    if spec.socket:
        return f"socket:{spec.socket.rpartition(':')[0]}"
    if spec.via:
        return f"via:{spec.via}"
    return "local"


def workers_at(specs: Sequence[GatewaySpec], spec: GatewaySpec) -> int:
    """How many of the session's workers run where ``spec``'s does (``spec`` among them)."""
    here = place(spec)
    return max(1, sum(place(other) == here for other in specs))


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def intra_op_threads(workers: int, environ: Mapping[str, str] | None = None, cores: int | None = None) -> int | None:
    """The intra-op threads for one of ``workers`` hubcheck workers sharing this machine, or None to keep torch's
    default (a single worker, or the user set the thread count in the environment)."""
    environ = os.environ if environ is None else environ
    if workers <= 1 or any(environ.get(name) for name in THREAD_VARIABLES):
        return None
    return max(1, (usable_cores() if cores is None else cores) // workers)
