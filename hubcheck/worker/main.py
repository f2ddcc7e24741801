"""The worker: a fork server that imports torch once and forks a fresh process for every job.

Started by :mod:`hubcheck.sandbox` as ``python -c <bootstrap> --commands-fd N --results-fd M``
in a scratch working directory, with stdin closed and stdout/stderr captured. It
imports torch, safetensors and numpy, freezes what they allocated out of the
garbage collector's reach, and never initialises CUDA (a probe fork finds the
devices): a process forked from it starts with torch imported and nothing else,
so no cwd, environment variable, patched function or imported module of one
entry point reaches the next, and the judge that compares outputs is a fork in
which no repo code ever ran.

The server is the subreaper of everything it forks: an orphaned grandchild is
reparented to it, not to init, and is killed when the job ends or the server does.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import faulthandler
import gc
import json
import os
import platform
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from . import namespaces, processes
from .protocol import (
    JOBS,
    ChildData,
    Errored,
    Exit,
    Exited,
    Fatal,
    Finished,
    Hello,
    Imported,
    ImportJob,
    JudgeJob,
    LineReader,
    RunJob,
    Started,
    send,
)

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# The server's own signal for "hubcheck is gone": caught, so that it kills what it forked first.
_PARENT_DEATH_SIGNAL = signal.SIGTERM
_POLL_S = 0.05
_WAIT_POLICY = "OMP_WAIT_POLICY"

Emit = Callable[[Any], None]


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hubcheck-worker")
    parser.add_argument("--commands-fd", type=int, required=True)
    parser.add_argument("--results-fd", type=int, required=True)
    parser.add_argument("--allow-network", action="store_true")
    parser.add_argument("--allow-tf32", action="store_true")
    parser.add_argument("--intra-op-threads", type=int, default=None, metavar="N")
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--overlay", nargs=2, metavar=("REPO", "SCRATCH"), default=None)
    parser.add_argument("--overlay-keep", action="append", default=[], metavar="DIR")
    return parser.parse_args(argv)


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _die_with_parent(parent_pid: int | None, how: int) -> None:
    """Linux: have the kernel send ``how`` to this process when its parent ends, however it ends.

    The kernel sends the signal when the *thread* that started the process ends,
    which is fine: hubcheck starts the server from the thread that waits on it,
    and the server is single-threaded.
    """
    if parent_pid is None or not _prctl(_PR_SET_PDEATHSIG, how):
        return
    if os.getppid() != parent_pid:  # the parent ended before the request was made
        os._exit(1)


def _on_parent_death(signum: int, frame: object) -> None:
    kill_descendants()
    os._exit(1)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    # First: the kernel gives namespaces only to a process that has started no thread yet.
    isolation = namespaces.enter(block_network=not args.allow_network, overlay=tuple(args.overlay) if args.overlay else None,
                                 keep=tuple(args.overlay_keep))
    signal.signal(_PARENT_DEATH_SIGNAL, _on_parent_death)
    _die_with_parent(args.parent_pid, _PARENT_DEATH_SIGNAL)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    # `python -c` puts the working directory on sys.path; torch.hub users' scripts do not
    # have hubcheck's scratch directory there, and neither should repo code.
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    faulthandler.enable()
    results_fd = args.results_fd
    if not args.allow_network:
        # Before torch is imported, so torch.hub binds the guarded urlopen.
        from . import netguard

        netguard.install()
    try:
        hello = _prepare(args.allow_tf32, isolation.to_json(), args.intra_op_threads)
    except BaseException as error:  # noqa: BLE001 - e.g. torch missing in a --python interpreter
        send(results_fd, Fatal(f"{type(error).__name__}: {error}"))
        return 1
    send(results_fd, hello)
    reader = LineReader(args.commands_fd)
    control = (args.commands_fd, results_fd)
    while True:
        job = reader.read(JOBS)
        if job is None or isinstance(job, Exit):
            kill_descendants()
            return 0
        _run_forked(job, control)


def _prepare(allow_tf32: bool, isolation: dict[str, str], intra_op_threads: int | None) -> Hello:
    """Import everything a job needs, find the devices without touching CUDA here, freeze the heap.

    ``intra_op_threads`` (a pytest-xdist worker's share of the cores) also makes OpenMP's idle
    threads sleep at once rather than spin: a spinning thread holds a core another worker's job
    needs (the ``threads`` model check runs two threads whatever the share is).
    """
    given = os.environ.get(_WAIT_POLICY)
    passive = intra_op_threads is not None and not given
    if passive:
        os.environ[_WAIT_POLICY] = "PASSIVE"  # read once, when torch loads OpenMP
    import torch

    if passive:
        # Repo code gets the environment hubcheck was given.
        if given is None:
            del os.environ[_WAIT_POLICY]
        else:
            os.environ[_WAIT_POLICY] = given
    if intra_op_threads is not None:
        # Every fork inherits it: the pool is sized in each job, not started here.
        torch.set_num_threads(intra_op_threads)

    # numpy is imported once here rather than by every entry point, where it is installed.
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401
    from . import checks, judge  # noqa: F401 - with safetensors and torch.hub

    devices = _probe_devices()
    if any(d.startswith("cuda") for d in devices) and not allow_tf32:
        _disable_tf32(torch)
    # torch's import leaves ~180,000 objects that every fork shares. Frozen, they are out of
    # every collection: a fork's collections walk only what repo code created, and do not
    # write to (and so copy) the pages torch's objects live in.
    gc.freeze()
    return Hello(platform.python_version(), torch.__version__, tuple(devices), sys.executable, os.getpid(), isolation)


def _probe_devices() -> list[str]:
    """The devices, found by a fork: asking CUDA here would make every later fork unable to use it."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 1
        try:
            os.write(write_fd, json.dumps(_devices()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data) if data else ["cpu"]


def _devices() -> list[str]:
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


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


# -- one job, one fork ------------------------------------------------------------------------------


def _run_forked(job: Any, control: tuple[int, int]) -> None:
    """Fork the job's process, relay what it writes, and report its own exit status, not its pipe's end."""
    results_fd = control[1]
    read_fd, write_fd = os.pipe()
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(job, write_fd, control, server)
    os.close(write_fd)
    with contextlib.suppress(OSError):  # the child already did, or already exited
        os.setpgid(pid, pid)
    send(results_fd, Started(pid))
    status = _relay_until_exit(pid, read_fd, results_fd)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)  # what is left of the job's process group
    kill_descendants()
    send(results_fd, Exited(os.waitstatus_to_exitcode(status)))


def _relay_until_exit(pid: int, read_fd: int, results_fd: int) -> int:
    """Relay the child's bytes until it exits; then what it left in the pipe. A grandchild holding
    the pipe open does not delay this: the end is the child's exit, not end of file."""

    def relay(chunk: bytes) -> None:
        send(results_fd, ChildData(base64.b64encode(chunk).decode("ascii")))

    try:
        exit_fd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3 or Python 3.9, and off Linux: poll
        exit_fd = None
    watched = [read_fd]
    status = None
    while status is None:
        ready, _, _ = select.select(watched + ([exit_fd] if exit_fd is not None else []), [], [],
                                    None if exit_fd is not None else _POLL_S)
        if read_fd in ready:
            chunk = os.read(read_fd, 65536)
            if chunk:
                relay(chunk)
            else:
                watched = []
        if exit_fd is None or exit_fd in ready:
            done, waited = os.waitpid(pid, os.WNOHANG)
            if done:
                status = waited
    if exit_fd is not None:
        os.close(exit_fd)
    os.set_blocking(read_fd, False)
    try:
        while chunk := os.read(read_fd, 65536):
            relay(chunk)
    except BlockingIOError:
        pass
    os.close(read_fd)
    return status


def kill_descendants() -> None:
    """SIGKILL every process below this one and reap it (Linux; elsewhere only the job's process group dies).

    As the subreaper, this process inherits every orphan below it, so a killed
    process's children become its own and the next pass finds them.
    """
    for _ in range(100):
        _reap()
        found = processes.descendants(os.getpid())
        if not found:
            return
        processes.kill(found)
        time.sleep(0.005)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(job: Any, message_fd: int, control: tuple[int, int], server: int) -> None:
    """The forked process: a fresh working directory, the server's pristine state, one job."""
    code = 0
    try:
        signal.signal(_PARENT_DEATH_SIGNAL, signal.SIG_DFL)
        for fd in control:
            # Repo code must not find the server's own pipes: it could write the server's messages.
            os.close(fd)
        os.setpgid(0, 0)
        _die_with_parent(server, signal.SIGKILL)
        os.chdir(job.cwd)

        def emit(message: Any) -> None:
            send(message_fd, message)

        try:
            namespaces.isolate_job()
            _dispatch(job, emit)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            emit(Errored(_describe(error, getattr(job, "repo", ""))))
        emit(Finished())
    except BaseException:  # noqa: BLE001 - the pipe is gone; the exit status tells the rest
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a stream repo code closed or replaced
                stream.flush()
        os._exit(code)


def _describe(error: BaseException, repo: str) -> str:
    from .checks import describe_exception

    return describe_exception(error, repo)


def _dispatch(job: Any, emit: Emit) -> None:
    if isinstance(job, ImportJob):
        _import(job, emit)
    elif isinstance(job, RunJob):
        from .checks import EntrypointChecks

        EntrypointChecks(job, emit).run()
    elif isinstance(job, JudgeJob):
        from .judge import judge

        judge(job, emit)


def _import(job: ImportJob, emit: Emit) -> None:
    """Import hubconf as torch.hub does, list its entry points, and run torch.hub's dependency check."""
    from . import hubimport

    module = hubimport.import_hubconf(job.repo)
    names = hubimport.list_entrypoints(module)
    entries = tuple(hubimport.describe_entrypoint(module, name) for name in names) if job.describe else ()
    dependency_error = None
    try:
        hubimport.check_dependencies(module)
    except Exception as error:  # noqa: BLE001 - torch.hub's RuntimeError, or a bad dependencies value
        dependency_error = f"{type(error).__name__}: {error}"
    emit(Imported(tuple(names), entries, dependency_error))
