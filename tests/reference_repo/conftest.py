"""Shared fixtures of the reference_repo tests.

Scripts run as real subprocesses from a temporary working directory; in-process
loads go through ``torch.hub.load(..., source="local")`` exactly as users do,
and the ``refzoo`` modules that torch.hub leaves in ``sys.modules`` are removed
afterwards so they cannot leak into other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REPO_DIR = PROJECT_ROOT / "reference_repo"


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """Absolute path of reference_repo/."""
    return REPO_DIR


@pytest.fixture(scope="session")
def project_root() -> Path:
    """Absolute path of the hubcheck project root (it has its own hubconf.py)."""
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def run_python():
    """Run ``python *args`` in ``cwd``; fail with the captured output unless it exits 0."""

    def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONPATH", None)  # the scripts must find their own package
        proc = subprocess.run(
            [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert proc.returncode == 0, (
            f"{args} exited {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
        return proc

    return run


@pytest.fixture(scope="session")
def hub_load():
    """``torch.hub.load(<reference_repo>, name, source="local", **kwargs)`` in this process."""
    import torch

    before = set(sys.modules)

    def load(name: str, **kwargs):
        return torch.hub.load(str(REPO_DIR), name, source="local", **kwargs)

    yield load
    for mod in set(sys.modules) - before:
        if mod == "refzoo" or mod.startswith("refzoo.") or mod == "hubconf":
            del sys.modules[mod]


@pytest.fixture(scope="session")
def blobs_split():
    """The tutorial's data, built here independently of refzoo.data: (x_train, x_test, y_train, y_test)."""
    import torch
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import train_test_split

    x, y = make_blobs(n_samples=1000, n_features=4, centers=3, cluster_std=2.5, random_state=95)
    parts = train_test_split(x, y, test_size=0.15, random_state=95)
    x_train, x_test, y_train, y_test = parts
    return (
        torch.from_numpy(x_train).float(),
        torch.from_numpy(x_test).float(),
        torch.from_numpy(y_train).long(),
        torch.from_numpy(y_test).long(),
    )
