"""Run repo code in a supervised worker process and survive whatever it does.

The worker gets a scratch working directory (so cwd-relative paths fail here
as they fail for users), closed stdin (a trust prompt cannot hang), a private
TORCH_HOME, its own process group (so children it spawns die with it), and
optionally a memory limit enforced by watching the group's resident memory.
Results come back as JSON lines on a dedicated pipe; stdout and stderr belong
to the repo's code and only their last few kilobytes are kept, for messages.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubcheck.errors import MissingDependencyError, UsageError
from hubcheck.worker.protocol import LineReader, send

_WORKER_DIR = Path(__file__).resolve().parent / "worker"
_OUTPUT_TAIL_BYTES = 16 * 1024
_MEMORY_POLL_S = 0.1
_GRACEFUL_EXIT_S = 5.0
# How a timeout message names the job that was running ("timed out after 5 s while importing hubconf").
_JOB_DESCRIPTIONS = {"import": "importing hubconf", "run": "running an entry point"}
# Every process the worker starts inherits this variable, with a value unique to the worker:
# children that leave its process group (setsid, daemons) are still found through it.
_TOKEN_ENV = "HUBCHECK_WORKER_TOKEN"

# Loads hubcheck/worker under a private name: no sys.path entry, so nothing of
# hubcheck's (or its environment's) can shadow the repo's own modules.
_BOOTSTRAP = """\
import importlib.util, sys
spec = importlib.util.spec_from_file_location(
    "_hubcheck_worker", {init!r}, submodule_search_locations=[{directory!r}])
module = importlib.util.module_from_spec(spec)
sys.modules["_hubcheck_worker"] = module
spec.loader.exec_module(module)
from _hubcheck_worker.main import main
sys.exit(main())
"""


class WorkerDied(Exception):
    """The worker ended before answering: crash, timeout, memory limit or exit."""

    def __init__(self, message: str, output_tail: str = "", events: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.output_tail = output_tail
        self.events = events or []


class WorkerTimedOut(WorkerDied):
    """The worker ran past the time it was given and was killed."""


@dataclass(frozen=True)
class WorkerOptions:
    """How to start a worker."""

    python: str | None = None
    """Interpreter to run it under; None is the one running hubcheck."""
    allow_network: bool = False
    allow_tf32: bool = False
    torch_home: Path | None = None
    """TORCH_HOME for repo code; None gives each worker a private, empty one."""
    max_memory: int | None = None
    """Bytes of resident memory the worker's process group may use; None is unlimited."""
    extra_env: dict[str, str] = field(default_factory=dict)
    overlay_repo: Path | None = None
    """Linux: the repo, to be put under an overlay so that repo code cannot change it; None leaves it writable."""
    overlay_keep: tuple[Path, ...] = ()
    """Directories inside ``overlay_repo`` shown as they are on disk, read-only (the references)."""


class _Tail:
    """The last bytes of a stream, drained on a thread so the writer never blocks."""

    def __init__(self, stream) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._lock:
                self._chunks.append(chunk)
                self._size += len(chunk)
                while self._size - len(self._chunks[0]) >= _OUTPUT_TAIL_BYTES:
                    self._size -= len(self._chunks.popleft())
        stream.close()

    def text(self) -> str:
        self._thread.join(timeout=1.0)
        with self._lock:
            data = b"".join(self._chunks)[-_OUTPUT_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")


def resolve_python(python: str | None) -> str:
    """The interpreter path to run the worker with; UsageError when it cannot be run."""
    if python is None:
        return sys.executable
    found = shutil.which(python) if os.sep not in python else python
    if not found or not os.access(found, os.X_OK) or os.path.isdir(found):
        raise UsageError(f"--python {python}: no such interpreter (give the path of a python executable)")
    return found


class Worker:
    """One worker process; use as a context manager."""

    def __init__(self, options: WorkerOptions | None = None) -> None:
        self.options = options or WorkerOptions()
        self.hello: dict[str, Any] | None = None
        self._process: subprocess.Popen | None = None
        self._scratch: Path | None = None
        self._events: queue.Queue = queue.Queue()
        self._memory_exceeded = threading.Event()
        self._stopped = threading.Event()
        self._token = secrets.token_hex(16)
        self._busy = False
        """A job is in flight: the worker cannot answer an exit request until it finishes."""

    # -- life cycle ----------------------------------------------------------------------

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 120.0) -> dict[str, Any]:
        """Start the process and wait for its hello (Python, torch and devices)."""
        python = resolve_python(self.options.python)
        self._scratch = Path(tempfile.mkdtemp(prefix="hubcheck-worker-"))
        torch_home = self.options.torch_home or (self._scratch / "torch_home")
        (self._scratch / "cwd").mkdir()
        commands_read, commands_write = os.pipe()
        results_read, results_write = os.pipe()
        env = dict(os.environ)
        env.update({
            "TORCH_HOME": str(torch_home),
            # Importing repo modules must not leave __pycache__ folders in the repo.
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONHASHSEED": "0",
            # Required before CUDA starts for deterministic cuBLAS on older torch releases.
            "CUBLAS_WORKSPACE_CONFIG": env.get("CUBLAS_WORKSPACE_CONFIG", ":4096:8"),
            "HUBCHECK_WORKER": "1",
            _TOKEN_ENV: self._token,
        })
        env.update(self.options.extra_env)
        argv = [
            python, "-c", _BOOTSTRAP.format(init=str(_WORKER_DIR / "__init__.py"), directory=str(_WORKER_DIR)),
            "--commands-fd", str(commands_read), "--results-fd", str(results_write),
            "--parent-pid", str(os.getpid()),
        ]
        if self.options.allow_network:
            argv.append("--allow-network")
        if self.options.allow_tf32:
            argv.append("--allow-tf32")
        if self.options.overlay_repo is not None:
            argv += ["--overlay", str(self.options.overlay_repo), str(self._scratch / "overlay")]
            for kept in self.options.overlay_keep:
                argv += ["--overlay-keep", str(kept)]
        try:
            self._process = subprocess.Popen(
                argv, cwd=self._scratch / "cwd", env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(commands_read, results_write),
                start_new_session=True,
            )
        finally:
            os.close(commands_read)
            os.close(results_write)
        self._commands = commands_write
        self._stdout = _Tail(self._process.stdout)
        self._stderr = _Tail(self._process.stderr)
        threading.Thread(target=self._read_results, args=(results_read,), daemon=True).start()
        if self.options.max_memory:
            threading.Thread(target=self._watch_memory, daemon=True).start()
        events = self._collect(until={"hello", "fatal"}, timeout=timeout, what="starting the worker")
        last = events[-1]
        if last["event"] == "fatal":
            self.close()
            message = last["message"]
            if "No module named 'torch'" in message or "No module named 'safetensors'" in message:
                raise MissingDependencyError(
                    f"the worker interpreter {python} cannot import torch: install it with "
                    "`pip install 'hubcheck[run]'` (or torch and safetensors) in that environment"
                )
            raise MissingDependencyError(f"the worker interpreter {python} failed to start: {message}")
        self.hello = last
        return last

    def close(self) -> None:
        """Ask the worker to exit, then make sure it and everything it started are gone."""
        self._stopped.set()
        process = self._process
        if process is not None:
            # A worker still busy with a job (hubcheck was interrupted while waiting for it)
            # would only answer the exit request after the job: it is killed at once.
            if process.poll() is None and not self._busy:
                try:
                    send(self._commands, {"op": "exit"})
                except OSError:
                    pass
                try:
                    process.wait(timeout=_GRACEFUL_EXIT_S)
                except subprocess.TimeoutExpired:
                    pass
            self._kill_group()
            process.wait()
            _kill_tagged(f"{_TOKEN_ENV}={self._token}".encode())
            try:
                os.close(self._commands)
            except OSError:
                pass
            self._process = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _kill_group(self) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- requests ----------------------------------------------------------------------

    def request(
        self,
        job: dict[str, Any],
        timeout: float,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Send a job and return its events up to ``done``.

        Raises:
            WorkerTimedOut: no ``done`` within ``timeout`` seconds; the worker was killed.
            WorkerDied: the worker ended first; the exception carries the events received.
        """
        if not self.alive:
            raise WorkerDied("the worker is not running")
        try:
            send(self._commands, job)
        except OSError:
            raise WorkerDied(self._death_message(), self.output_tail()) from None
        what = _JOB_DESCRIPTIONS.get(job.get("op"), f"running job {job.get('op')!r}")
        self._busy = True
        events = self._collect(until={"done"}, timeout=timeout, what=what, on_event=on_event)
        self._busy = False
        return events

    def _collect(self, until: set[str], timeout: float, what: str, on_event=None) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        events: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                event = self._events.get(timeout=max(remaining, 0.0)) if remaining > 0 else self._events.get_nowait()
            except queue.Empty:
                self._kill_group()
                raise WorkerTimedOut(f"timed out after {_seconds(timeout)} while {what}", self.output_tail(), events) from None
            if event is None:
                raise WorkerDied(self._death_message(), self.output_tail(), events)
            events.append(event)
            if on_event is not None:
                on_event(event)
            if event.get("event") in until:
                return events

    def _read_results(self, fd: int) -> None:
        reader = LineReader(fd)
        try:
            while True:
                message = reader.read()
                if message is None:
                    break
                self._events.put(message)
        except (OSError, ValueError):
            pass
        finally:
            os.close(fd)
            self._events.put(None)

    def _death_message(self) -> str:
        process = self._process
        try:
            code = process.wait(timeout=5.0) if process is not None else None
        except subprocess.TimeoutExpired:
            self._kill_group()
            code = process.wait()
        if self._memory_exceeded.is_set():
            return f"worker killed: memory use exceeded the limit of {_size(self.options.max_memory)} (--max-memory)"
        if code is None:
            return "the worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"worker killed by {name}"
        return f"worker exited with code {code} (repo code called sys.exit, os._exit or similar)"

    def output_tail(self, lines: int = 20) -> str:
        """The last lines the worker printed (stderr first), for failure messages.

        A crash dump of faulthandler's becomes one line at the end, naming the frames
        outside hubcheck's worker: the dump's own last lines are hubcheck's frames and
        the list of extension modules, which say nothing about the crash.
        """
        parts = []
        for name, tail in (("stderr", getattr(self, "_stderr", None)), ("stdout", getattr(self, "_stdout", None))):
            if tail is None:
                continue
            text, crash = _split_crash_dump(tail.text())
            text = text.strip()
            if text:
                parts.append(f"[{name}] " + "\n".join(text.splitlines()[-lines:]))
            if crash:
                parts.append(f"[{name}] {crash}")
        return "\n".join(parts)

    # -- memory limit ------------------------------------------------------------------

    def _watch_memory(self) -> None:
        limit = self.options.max_memory
        while not self._stopped.is_set() and self.alive:
            if group_rss(self._process.pid) > limit:
                self._memory_exceeded.set()
                self._kill_group()
                return
            time.sleep(_MEMORY_POLL_S)


_CRASH_FRAME = re.compile(r'^\s*File "(?P<path>.*)", line (?P<line>\d+) in (?P<function>.*)$')


def _split_crash_dump(text: str) -> tuple[str, str | None]:
    """``(text before a faulthandler dump, the dump as one line)``; ``(text, None)`` without one."""
    start = text.rfind("Fatal Python error:")
    if start < 0:
        return text, None
    dump = text[start:].splitlines()
    frames = []
    for line in dump[1:]:
        match = _CRASH_FRAME.match(line)
        if match and not match["path"].startswith(str(_WORKER_DIR)):
            frames.append(f"{match['function']} at {os.path.basename(match['path'])}:{match['line']}")
    where = f" (most recent call first: {'; '.join(frames[:4])})" if frames else ""
    return text[:start], dump[0].strip() + where


def _kill_tagged(entry: bytes) -> None:
    """SIGKILL every process whose initial environment holds ``entry`` (Linux /proc; nothing elsewhere).

    Catches what the worker started outside its process group; a process that
    dropped the variable from its environment before exec is not found.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for name in entries:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                found = entry in handle.read().split(b"\0")
        except OSError:
            continue
        if found:
            try:
                os.kill(int(name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in a process group (Linux /proc; 0 elsewhere)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().rsplit(b")", 1)[1].split()
            if int(stat[2]) != pgid:
                continue
            with open(f"/proc/{entry}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _size(value: int | None) -> str:
    if value is None:
        return "unlimited"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"
