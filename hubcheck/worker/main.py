"""The worker process: reads jobs, runs repo code, streams results back.

Started by :mod:`hubcheck.sandbox` as ``python -c <bootstrap> --commands-fd N --results-fd M``
in a scratch working directory, with stdin closed and stdout/stderr captured.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import os
import platform
import sys
import traceback
from typing import Any

from . import namespaces
from .protocol import LineReader, send


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hubcheck-worker")
    parser.add_argument("--commands-fd", type=int, required=True)
    parser.add_argument("--results-fd", type=int, required=True)
    parser.add_argument("--allow-network", action="store_true")
    parser.add_argument("--allow-tf32", action="store_true")
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--overlay", nargs=2, metavar=("REPO", "SCRATCH"), default=None)
    parser.add_argument("--overlay-keep", action="append", default=[], metavar="DIR")
    return parser.parse_args(argv)


def _die_with_parent(parent_pid: int | None) -> None:
    """Linux: have the kernel SIGKILL this worker when hubcheck's process ends, however it ends.

    Without it a hubcheck killed by SIGKILL (or any signal it does not handle)
    leaves its worker running, and a hanging entry point runs forever. The
    kernel sends the signal when the *thread* that started the worker ends,
    which is fine: hubcheck starts a worker from the thread that waits on it.
    """
    if parent_pid is None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # hubcheck ended before the request was made
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    # First: the kernel gives namespaces only to a process that has started no thread yet.
    isolation = namespaces.enter(block_network=not args.allow_network, overlay=tuple(args.overlay) if args.overlay else None,
                                 keep=tuple(args.overlay_keep))
    _die_with_parent(args.parent_pid)
    # `python -c` puts the working directory on sys.path; torch.hub users' scripts do not
    # have hubcheck's scratch directory there, and neither should repo code.
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    faulthandler.enable()
    results_fd = args.results_fd

    def emit(message: dict[str, Any]) -> None:
        send(results_fd, message)

    if not args.allow_network:
        # Before torch is imported, so torch.hub binds the guarded urlopen.
        from . import netguard

        netguard.install()
    try:
        hello = _hello(args.allow_tf32)
    except BaseException as error:  # noqa: BLE001 - e.g. torch missing in a --python interpreter
        emit({"event": "fatal", "message": f"{type(error).__name__}: {error}"})
        return 1
    emit({**hello, "isolation": isolation.to_json()})
    reader = LineReader(args.commands_fd)
    while True:
        job = reader.read()
        if job is None or job.get("op") == "exit":
            return 0
        try:
            _dispatch(job, emit)
        except BaseException as error:  # noqa: BLE001 - repo code may raise SystemExit or anything
            if isinstance(error, KeyboardInterrupt):
                raise
            emit({"event": "error", "op": job.get("op"), "message": _describe(error, job.get("repo", "")),
                  "traceback": traceback.format_exc()[-4000:]})
        emit({"event": "done", "op": job.get("op")})


def _hello(allow_tf32: bool) -> dict[str, Any]:
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
        if not allow_tf32:
            _disable_tf32(torch)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    # torch's import leaves ~180,000 objects that live as long as the worker. Frozen, they
    # are out of every collection: release_memory's gc.collect() after each entry point and
    # the collections of interpreter shutdown only walk what repo code created.
    gc.freeze()
    return {"event": "hello", "python": platform.python_version(), "torch": torch.__version__,
            "devices": devices, "executable": sys.executable, "pid": os.getpid()}


def _disable_tf32(torch) -> None:
    """TF32 changes float32 results on Ampere and later; parity checks need IEEE float32."""
    matmul = torch.backends.cuda.matmul
    conv = getattr(torch.backends.cudnn, "conv", None)
    if hasattr(matmul, "fp32_precision") and conv is not None and hasattr(conv, "fp32_precision"):
        matmul.fp32_precision = "ieee"
        conv.fp32_precision = "ieee"
    else:
        matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _describe(error: BaseException, repo: str) -> str:
    from .checks import describe_exception

    return describe_exception(error, repo)


def _dispatch(job: dict[str, Any], emit) -> None:
    op = job.get("op")
    if op == "import":
        _import(job, emit)
    elif op == "run":
        from .checks import EntrypointChecks, Job

        fields = {k: job[k] for k in ("repo", "entrypoint", "config", "devices", "checks") if k in job}
        extras = {k: job.get(k) for k in ("reference", "keep_obtained", "record", "allow_tf32", "commit")}
        EntrypointChecks(Job(**fields, **{k: v for k, v in extras.items() if v is not None}), emit).run()
    else:
        emit({"event": "error", "op": op, "message": f"unknown job {op!r}"})


def _import(job: dict[str, Any], emit) -> None:
    """Import hubconf as torch.hub does, list its entry points, and run torch.hub's dependency check."""
    from . import hubimport

    module = hubimport.import_hubconf(job["repo"])
    names = hubimport.list_entrypoints(module)
    entries = [hubimport.describe_entrypoint(module, name) for name in names] if job.get("describe") else []
    dependency_error = None
    try:
        hubimport.check_dependencies(module)
    except Exception as error:  # noqa: BLE001 - torch.hub's RuntimeError, or a bad dependencies value
        dependency_error = f"{type(error).__name__}: {error}"
    emit({"event": "imported", "names": names, "entries": entries, "dependency_error": dependency_error})
