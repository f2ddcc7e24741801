"""Shared test helpers: real hub repos written to tmp_path, and hubcheck run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT / "fixtures"


def write_repo(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``root`` (sources are dedented)."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def hubcheck(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None) -> Run:
    """Run ``python -m hubcheck ARGS`` as users do and capture everything."""
    completed = subprocess.run(
        [sys.executable, "-m", "hubcheck", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def file_digests(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, to prove nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
