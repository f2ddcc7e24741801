"""Run repo code in supervised processes and survive whatever it does.

The worker is a fork server (:mod:`hubcheck.worker.main`): started once with a
scratch working directory, closed stdin, a private TORCH_HOME and its own
session, it imports torch and then forks one process per job, each in a fresh
working directory with the server's pristine environment and modules, in its own
process group. Everything a job's process writes on its message pipe reaches
this process as bytes relayed by the server, and is decoded here against the
messages that process may send (:mod:`hubcheck.worker.protocol`); what does not
decode becomes a :class:`~hubcheck.worker.protocol.ProtocolError` in the job's
messages, never an exception. A job ends when the server reports its process's
exit status, whoever still holds its pipe. stdout and stderr belong to the
repo's code and only their last few kilobytes are kept, for messages.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubcheck.errors import MissingDependencyError, UsageError
from hubcheck.worker import processes
from hubcheck.worker.protocol import (
    SERVER_MESSAGES,
    ChildData,
    Exit,
    Exited,
    Fatal,
    Finished,
    Hello,
    LineReader,
    LineSplitter,
    ProtocolError,
    Started,
    decode,
    preview,
    send,
)

_WORKER_DIR = Path(__file__).resolve().parent / "worker"
_OUTPUT_TAIL_BYTES = 16 * 1024
_MEMORY_POLL_S = 0.1
_GRACEFUL_EXIT_S = 5.0
# How long the server may take to report the exit of a process just killed.
_KILLED_EXIT_S = 10.0
_CRASH_OUTPUT_S = 0.1
# All a job's process may write on its message pipe; beyond it hubcheck stops reading.
_MAX_JOB_MESSAGE_BYTES = 64 * 1024 * 1024
# Every process the worker starts inherits this variable, with a value unique to the worker:
# children that leave its process group (setsid, daemons) are still found through it.
_TOKEN_ENV = "HUBCHECK_WORKER_TOKEN"  # noqa: S105 - the variable's name; its value is made per worker

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
    """Bytes of resident memory a job's processes may use together; None is unlimited."""
    overlay_repo: Path | None = None
    """Linux: the repo, to be put under an overlay so that repo code cannot change it; None leaves it writable."""
    overlay_keep: tuple[Path, ...] = ()
    """Directories inside ``overlay_repo`` shown as they are on disk, read-only (the references)."""
    cuda_visible_devices: str | None = None
    """``CUDA_VISIBLE_DEVICES`` for the worker (a pytest-xdist worker's one GPU); None keeps this process's."""
    intra_op_threads: int | None = None
    """torch's intra-op threads in the worker (a pytest-xdist worker's share of the cores); None keeps torch's."""


@dataclass(frozen=True)
class JobRun:
    """What one forked job did: its messages in order of arrival, and how its process ended."""

    messages: tuple[Any, ...]
    """Decoded messages, with a :class:`ProtocolError` where something else arrived."""
    returncode: int | None
    """The process's exit code, or minus the signal that killed it; None when the server never said."""
    timed_out: bool = False
    memory_limit: int | None = None
    """The limit it was killed for exceeding, or None."""
    server_lost: str | None = None
    """Why the fork server itself is gone (the job's process took it down...), or None."""
    output: str = ""
    """The last lines the worker printed while the job ran, for failure messages."""

    @property
    def finished(self) -> bool:
        """The process sent everything it had to and exited with code 0."""
        return self.returncode == 0 and any(isinstance(m, Finished) for m in self.messages)

    @property
    def death(self) -> str:
        """Why the process ended before finishing (for a job that did not ``finish``)."""
        if self.server_lost is not None:
            return self.server_lost
        if self.memory_limit is not None:
            return f"worker killed: memory use exceeded the limit of {_size(self.memory_limit)} (--max-memory)"
        code = self.returncode
        if code is None:
            return "the worker stopped answering"
        if code < 0:
            return f"worker killed by {_signal_name(-code)}"
        if code == 0:
            return "worker exited with code 0 before reporting every check (repo code called sys.exit, os._exit or similar)"
        return f"worker exited with code {code} (repo code called sys.exit, os._exit or similar)"


class _Tail:
    """The last bytes of a stream, drained on a thread so the writer never blocks."""

    def __init__(self, stream) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._total = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._lock:
                self._chunks.append(chunk)
                self._size += len(chunk)
                self._total += len(chunk)
                while self._size - len(self._chunks[0]) >= _OUTPUT_TAIL_BYTES:
                    self._size -= len(self._chunks.popleft())
        stream.close()

    def mark(self) -> int:
        """How many bytes arrived so far: ``text(since=mark())`` later shows only what came after."""
        with self._lock:
            return self._total

    def text(self, since: int = 0, wait: bool = True) -> str:
        if wait:
            self._thread.join(timeout=1.0)
        with self._lock:
            data = b"".join(self._chunks)
            data = data[max(len(data) - (self._total - since), 0):][-_OUTPUT_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")


def resolve_python(python: str | None) -> str:
    """The interpreter path to run the worker with; UsageError when it cannot be run."""
    if python is None:
        return sys.executable
    found = shutil.which(python) if os.sep not in python else python
    if not found or not os.access(found, os.X_OK) or os.path.isdir(found):
        raise UsageError(f"--python {python}: no such interpreter (give the path of a python executable)")
    return found


def _spawn_worker(argv: list[str], env: dict[str, str], cwd: Path, pass_fds: tuple[int, ...]) -> subprocess.Popen:
    """Start the fork server: the one place its process is created."""
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=pass_fds, start_new_session=True,
    )


class Worker:
    """The fork server and the jobs it runs, one at a time; use as a context manager."""

    def __init__(self, options: WorkerOptions | None = None) -> None:
        self.options = options or WorkerOptions()
        self._process: subprocess.Popen | None = None
        self._scratch: Path | None = None
        self._events: queue.Queue = queue.Queue()
        self._token = secrets.token_hex(16)
        self._jobs = 0
        self._busy = False
        """A job is in flight: the server cannot answer an exit request until it ends."""

    # -- life cycle ----------------------------------------------------------------------

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 120.0) -> Hello:
        """Start the server and wait for its hello (Python, torch and devices)."""
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
        if self.options.cuda_visible_devices is not None:
            # In the environment it starts with: CUDA reads the mask once, when it starts.
            env["CUDA_VISIBLE_DEVICES"] = self.options.cuda_visible_devices
        argv = [
            python, "-c", _BOOTSTRAP.format(init=str(_WORKER_DIR / "__init__.py"), directory=str(_WORKER_DIR)),
            "--commands-fd", str(commands_read), "--results-fd", str(results_write),
            "--parent-pid", str(os.getpid()),
        ]
        if self.options.allow_network:
            argv.append("--allow-network")
        if self.options.allow_tf32:
            argv.append("--allow-tf32")
        if self.options.intra_op_threads is not None:
            argv += ["--intra-op-threads", str(self.options.intra_op_threads)]
        if self.options.overlay_repo is not None:
            argv += ["--overlay", str(self.options.overlay_repo), str(self._scratch / "overlay")]
            for kept in self.options.overlay_keep:
                argv += ["--overlay-keep", str(kept)]
        try:
            self._process = _spawn_worker(argv, env, self._scratch / "cwd", (commands_read, results_write))
        finally:
            os.close(commands_read)
            os.close(results_write)
        self._commands = commands_write
        self._stdout = _Tail(self._process.stdout)
        self._stderr = _Tail(self._process.stderr)
        threading.Thread(target=self._read_results, args=(results_read,), daemon=True).start()
        first = self._next(time.monotonic() + timeout)
        if isinstance(first, Hello):
            return first
        self.close()
        if isinstance(first, Fatal):
            message = first.message
            if "No module named 'torch'" in message or "No module named 'safetensors'" in message:
                raise MissingDependencyError(
                    f"the worker interpreter {python} cannot import torch: install it with "
                    "`pip install 'hubcheck[run]'` (or torch and safetensors) in that environment"
                )
        elif first is _TIMEOUT:
            message = f"no answer within {_seconds(timeout)}"
        elif isinstance(first, ProtocolError):
            message = str(first)
        else:
            message = self._server_death()
        raise MissingDependencyError(f"the worker interpreter {python} failed to start: {message}")

    def close(self) -> None:
        """Ask the server to exit, then make sure it and everything it started are gone."""
        process = self._process
        if process is not None:
            # A server still busy with a job (hubcheck was interrupted while waiting for it)
            # would only answer the exit request after the job: it is killed at once.
            if process.poll() is None and not self._busy:
                with contextlib.suppress(OSError):
                    send(self._commands, Exit())
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=_GRACEFUL_EXIT_S)
            processes.kill(processes.descendants(process.pid))
            self._kill_group()
            process.wait()
            _kill_tagged(f"{_TOKEN_ENV}={self._token}".encode())
            with contextlib.suppress(OSError):
                os.close(self._commands)
            self._process = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _kill_group(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    # -- jobs --------------------------------------------------------------------------

    def job_dir(self) -> Path:
        """A fresh directory for one job: ``cwd`` (its working directory) and ``data`` (its outputs)."""
        if self._scratch is None:
            raise RuntimeError("the worker is not started")
        self._jobs += 1
        directory = self._scratch / "jobs" / str(self._jobs)
        (directory / "cwd").mkdir(parents=True)
        (directory / "data").mkdir()
        return directory

    def run(self, job: Any, timeout: float, allowed: tuple[type, ...]) -> JobRun:
        """Fork a process for ``job`` and collect what it sends, as ``allowed`` messages, until it exits.

        Never raises for what the job's process does: a timeout, a crash, the memory
        limit, malformed messages and even the loss of the server are in the result.
        """
        process = self._process
        if process is None or process.poll() is not None:
            return JobRun((), None, server_lost=self._server_death())
        marks = (self._stdout.mark(), self._stderr.mark())
        self._busy = True
        try:
            send(self._commands, job)
        except OSError:
            self._busy = False
            return JobRun((), None, server_lost=self._server_death())
        collected = _Collected(allowed)
        deadline = time.monotonic() + timeout
        stop_watch = threading.Event()
        memory = _MemoryWatch(process.pid, self.options.max_memory, stop_watch)
        server_lost: str | None = None
        try:
            while True:
                event = self._next(deadline)
                if event is _TIMEOUT:
                    if collected.timed_out:
                        server_lost = "the worker did not report the end of a process it was asked to kill"
                        break
                    collected.timed_out = True
                    processes.kill(processes.descendants(process.pid))
                    deadline = time.monotonic() + _KILLED_EXIT_S
                    continue
                if isinstance(event, Exited):
                    collected.finish(event.returncode)
                    break
                if isinstance(event, Started):
                    memory.start()
                elif isinstance(event, ChildData):
                    collected.feed(event)
                else:
                    server_lost = self._server_lost(event)
                    break
        finally:
            stop_watch.set()
            self._busy = False
        if server_lost is not None:
            self.close()
        elif collected.returncode != 0:
            # What the process wrote just before it died (a crash dump) may still be on its way.
            time.sleep(_CRASH_OUTPUT_S)
        return JobRun(
            tuple(collected.messages), collected.returncode, collected.timed_out,
            self.options.max_memory if memory.exceeded.is_set() else None, server_lost,
            self._output_since(marks),
        )

    def _server_lost(self, event: Any) -> str:
        if isinstance(event, ProtocolError):
            return f"the worker broke the protocol ({event})"
        if event is None:
            return self._server_death()
        return f"the worker sent an unexpected {type(event).TAG!r} message"

    def _next(self, deadline: float) -> Any:
        remaining = deadline - time.monotonic()
        try:
            return self._events.get(timeout=remaining) if remaining > 0 else self._events.get_nowait()
        except queue.Empty:
            return _TIMEOUT

    def _read_results(self, fd: int) -> None:
        reader = LineReader(fd)
        try:
            while True:
                message = reader.read(SERVER_MESSAGES)
                if message is None:
                    break
                self._events.put(message)
        except ProtocolError as error:
            self._events.put(error)
        except OSError:
            pass
        finally:
            os.close(fd)
            self._events.put(None)

    def _server_death(self) -> str:
        process = self._process
        if process is None:
            return "the worker is not running"
        try:
            code = process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            return "the worker stopped answering"
        if code < 0:
            return f"the worker's fork server was killed by {_signal_name(-code)}"
        return f"the worker's fork server exited with code {code}"

    def _output_since(self, marks: tuple[int, int]) -> str:
        return self.output_tail(since=marks, wait=False)

    def output_tail(self, lines: int = 20, since: tuple[int, int] = (0, 0), wait: bool = True) -> str:
        """The last lines the worker printed (stderr first), for failure messages.

        A crash dump of faulthandler's becomes one line at the end, naming the frames
        outside hubcheck's worker: the dump's own last lines are hubcheck's frames and
        the list of extension modules, which say nothing about the crash.
        """
        parts = []
        pairs = (("stderr", getattr(self, "_stderr", None), since[1]), ("stdout", getattr(self, "_stdout", None), since[0]))
        for name, tail, mark in pairs:
            if tail is None:
                continue
            text, crash = _split_crash_dump(tail.text(mark, wait))
            text = text.strip()
            if text:
                parts.append(f"[{name}] " + "\n".join(text.splitlines()[-lines:]))
            if crash:
                parts.append(f"[{name}] {crash}")
        return "\n".join(parts)


_TIMEOUT = object()


class _Collected:
    """The messages of one job's process, decoded from the bytes the server relays."""

    def __init__(self, allowed: tuple[type, ...]) -> None:
        self.allowed = allowed
        self.messages: list[Any] = []
        self.returncode: int | None = None
        self.timed_out = False
        self._lines = LineSplitter()
        self._received = 0

    def feed(self, data: ChildData) -> None:
        if self._received > _MAX_JOB_MESSAGE_BYTES:
            return
        try:
            chunk = base64.b64decode(data.base64, validate=True)
        except (binascii.Error, ValueError):
            self.messages.append(ProtocolError("relayed bytes that are not base64"))
            return
        self._received += len(chunk)
        if self._received > _MAX_JOB_MESSAGE_BYTES:
            self.messages.append(ProtocolError(
                f"more than {_MAX_JOB_MESSAGE_BYTES // 2**20} MiB of messages; the rest was not read"))
            return
        for line in self._lines.feed(chunk):
            if isinstance(line, ProtocolError):
                self.messages.append(line)
                continue
            try:
                self.messages.append(decode(line, self.allowed))
            except ProtocolError as error:
                self.messages.append(error)

    def finish(self, returncode: int) -> None:
        self.returncode = returncode
        rest = self._lines.rest()
        if rest:
            self.messages.append(ProtocolError(f"a message cut short when the process ended: {preview(rest)}"))


class _MemoryWatch:
    """Kills a job's processes when together they hold more resident memory than the limit."""

    def __init__(self, server_pid: int, limit: int | None, stop: threading.Event) -> None:
        self.server_pid = server_pid
        self.limit = limit
        self.stop = stop
        self.exceeded = threading.Event()

    def start(self) -> None:
        if self.limit:
            threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        assert self.limit is not None
        while not self.stop.is_set():
            found = processes.descendants(self.server_pid)
            if processes.resident_bytes(found) > self.limit:
                self.exceeded.set()
                processes.kill(found)
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
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(name), signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _size(value: int | None) -> str:
    if value is None:
        return "unlimited"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"
