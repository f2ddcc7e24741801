"""Check the weight files that :mod:`hubcheck.weights` found: reachable, whole, the right hash, loadable.

Three sources, in this order: the URL itself (only with ``allow_network``), the file torch.hub
would have cached (``<torch_home>/hub/checkpoints/<file name>``), and for local paths the
repo's file. A body is wrong when it is HTML (a login or "file moved" page served with
200), shorter than its ``Content-Length`` (a cut download), or when its sha256 does not
start with the hash prefix its file name (or ``hash_prefix=``) carries. With ``load``, the file is loaded with
``torch.load(weights_only=True)`` in a separate process (:mod:`hubcheck.worker.checkpoint_load`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hubcheck.weights import WeightRef

_CHUNK = 1 << 20
_HTML_STARTS = (b"<!doctype html", b"<html", b"<?xml", b"<head")
_LOADER = Path(__file__).resolve().parent / "worker" / "checkpoint_load.py"


PASSED = "passed"
FAILED = "failed"
NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class Verification:
    """What checking one weight found."""

    status: str
    """``passed``, ``failed`` or ``not-checked``."""
    message: str
    source: str | None = None
    """Where the checked bytes came from: the URL, a cached file or the repo's file."""
    size: int | None = None
    sha256: str | None = None
    loaded: bool | None = None
    """Whether ``torch.load(weights_only=True)`` read it; None when not tried."""
    needs_globals: tuple[str, ...] = ()
    """What a refused checkpoint would need allowed (``torch.serialization.add_safe_globals``)."""

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, "message": self.message, "source": self.source, "size": self.size,
                "sha256": self.sha256, "loaded": self.loaded, "needs_globals": list(self.needs_globals)}


def verify_weight(ref: WeightRef, repo_root: Path, *, allow_network: bool, torch_home: Path | None,
                  load: bool, timeout: float) -> Verification:
    """Check one weight (see the module docstring); never raises for what the file or server does."""
    if ref.kind == "unresolved":
        return Verification(NOT_CHECKED, "the location is computed at run time: " + ref.location)
    if ref.kind == "path":
        path = Path(ref.location) if Path(ref.location).is_absolute() else repo_root / ref.location
        if not path.is_file():
            return Verification(FAILED, f"{ref.location} is not a file in the repo", str(path))
        return _checked_file(ref, path, str(path), None, load, timeout)
    if allow_network:
        with tempfile.TemporaryDirectory(prefix="hubcheck-weights-") as scratch:
            return _downloaded(ref, Path(scratch) / (ref.file_name or "weights"), load, timeout)
    if torch_home is not None and ref.file_name:
        cached = torch_home / "hub" / "checkpoints" / ref.file_name
        if not cached.is_file():
            return Verification(FAILED, f"not in --torch-home: {cached} is missing (fetch it, or pass --allow-network)",
                                str(cached))
        return _checked_file(ref, cached, str(cached), None, load, timeout)
    return Verification(NOT_CHECKED, "offline: pass --allow-network to fetch it, or --torch-home DIR to check a cached copy")


def _downloaded(ref: WeightRef, target: Path, load: bool, timeout: float) -> Verification:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(ref.location, timeout=timeout) as response:  # noqa: S310 - the repo's own URL
            declared = response.headers.get("Content-Length")
            content_type = response.headers.get("Content-Type", "")
            received = 0
            with open(target, "wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
    except http.client.IncompleteRead as error:
        return Verification(FAILED, f"truncated: the server closed after {len(error.partial)} bytes of "
                                    f"{len(error.partial) + (error.expected or 0)}", ref.location)
    except urllib.error.HTTPError as error:
        return Verification(FAILED, f"HTTP {error.code} {error.reason}", ref.location)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return Verification(FAILED, f"cannot fetch it: {reason}", ref.location)
    if declared is not None and declared.isdigit() and int(declared) != received:
        return Verification(FAILED, f"truncated: {received} bytes of the {declared} its Content-Length says",
                            ref.location, received)
    if content_type.split(";")[0].strip().lower() == "text/html":
        return Verification(FAILED, "the server answers with an HTML page (Content-Type text/html), not weights",
                            ref.location, received)
    return _checked_file(ref, target, ref.location, declared, load, timeout)


def _checked_file(ref: WeightRef, path: Path, source: str, declared: str | None, load: bool,
                  timeout: float) -> Verification:
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                if not head:
                    head = chunk[:512]
                digest.update(chunk)
                size += len(chunk)
    except OSError as error:
        return Verification(FAILED, f"cannot read it: {error.strerror or error}", source)
    sha256 = digest.hexdigest()
    if size == 0:
        return Verification(FAILED, "it is empty", source, size, sha256)
    if head.lstrip().lower().startswith(_HTML_STARTS):
        return Verification(FAILED, "it is an HTML page, not weights", source, size, sha256)
    if ref.hash_prefix is not None and not sha256.startswith(ref.hash_prefix):
        return Verification(FAILED, f"sha256 {sha256[:16]}... does not start with {ref.hash_prefix}, the prefix it "
                                    "should have (the file name's, or hash_prefix=): torch.hub would refuse it",
                            source, size, sha256)
    hashed = f"sha256 starts with {ref.hash_prefix}" if ref.hash_prefix else "no hash prefix to compare"
    message = f"{size:,} bytes{' as declared' if declared else ''}, {hashed}"
    if not load:
        return Verification(PASSED, message, source, size, sha256)
    loaded, detail, needed = _load_in_worker(path, timeout)
    if not loaded:
        return Verification(FAILED, f"{message}; torch.load(weights_only=True) refuses it: {detail}", source, size,
                            sha256, False, needed)
    return Verification(PASSED, f"{message}; loads with weights_only=True ({detail})", source, size, sha256, True)


def _load_in_worker(path: Path, timeout: float) -> tuple[bool, str, tuple[str, ...]]:
    """Load ``path`` in a separate interpreter: (loaded, what it was or why not, globals it needs)."""
    try:
        done = subprocess.run([sys.executable, "-I", str(_LOADER), str(path)], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return False, f"the load did not finish in {timeout:g} s", ()
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return False, f"the loading process failed: {last}", ()
    if answer.get("ok"):
        return True, f"a {answer.get('kind')} of {answer.get('entries')} entries", ()
    needed = tuple(str(name) for name in answer.get("globals") or ())
    hint = f"; it needs these globals allowed: {', '.join(needed)}" if needed else ""
    return False, f"{answer.get('error')}{hint}", needed
