"""Which GPUs a pytest run sees, and which one each pytest-xdist worker's hubcheck worker gets.

Under ``-n``, every xdist worker starts its own hubcheck worker; on a machine
with several GPUs each of those is pinned to one GPU through
``CUDA_VISIBLE_DEVICES``, set in the environment it starts with, so before CUDA
starts in it (the pytest processes never start CUDA). Worker ``gwI`` gets the
I-th visible GPU, round-robin when there are more workers than GPUs. A mask the
user already set is respected: the GPUs are the mask's entries, in its order,
and a worker gets one of them as written there (an index or a UUID).

The GPUs are found without CUDA and without torch: ``nvidia-smi``, else
``/proc/driver/nvidia/gpus``. ``HUBCHECK_FAKE_GPUS`` replaces both with a list
of ``ID:KIND`` entries (``0:NVIDIA A100,1:NVIDIA H100``), so that the pinning can
be tested where there is no GPU; the mask still applies on top of it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MASK_VARIABLE = "CUDA_VISIBLE_DEVICES"
FAKE_VARIABLE = "HUBCHECK_FAKE_GPUS"
_NVIDIA_SMI_TIMEOUT_S = 10.0
_PROC_GPUS = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True)
class Gpu:
    """One GPU as ``CUDA_VISIBLE_DEVICES`` names it."""

    id: str
    """An index (``"3"``) or a UUID (``"GPU-5c1d..."``), as the mask writes it."""
    kind: str
    """The model (``"NVIDIA H100 80GB HBM3"``); empty when unknown."""
    uuid: str = ""
    """The GPU's UUID where known (the installed GPUs, not the entries of a user's mask)."""

    @property
    def pin(self) -> str:
        """What ``CUDA_VISIBLE_DEVICES`` gets for this GPU: its UUID when known, which names it whatever
        ``CUDA_DEVICE_ORDER`` says; else the index or UUID as the user's mask wrote it."""
        return self.uuid or self.id


def installed_gpus(environ: Mapping[str, str] | None = None) -> list[Gpu]:
    """Every NVIDIA GPU of this machine by index, ignoring any mask (``HUBCHECK_FAKE_GPUS`` when set)."""
    environ = os.environ if environ is None else environ
    fake = environ.get(FAKE_VARIABLE)
    if fake is not None:
        return _parse_fake(fake)
    return _from_nvidia_smi() or _from_proc()


def visible_gpus(environ: Mapping[str, str] | None = None,
                 installed: Callable[[], Sequence[Gpu]] | None = None) -> list[Gpu]:
    """The GPUs CUDA would show this process: the installed ones, narrowed and ordered by the user's mask."""
    environ = os.environ if environ is None else environ
    found = list(installed() if installed is not None else installed_gpus(environ))
    mask = environ.get(MASK_VARIABLE)
    if mask is None:
        return found
    visible: list[Gpu] = []
    for entry in (part.strip() for part in mask.split(",")):
        # CUDA stops at the first entry that names no device: "-1" or "" hides them all.
        if not entry or entry.startswith("-"):
            break
        match = next((g for g in found if entry == g.id or (entry.startswith("GPU-") and g.uuid.startswith(entry))),
                     None)
        visible.append(Gpu(entry, match.kind if match else ""))
    return visible


def gpu_kinds(gpus: Sequence[Gpu]) -> list[str]:
    """The distinct kinds, in order of first appearance (what ``auto`` collects one item set for)."""
    return list(dict.fromkeys(g.kind for g in gpus))


def worker_index(worker_id: str) -> int | None:
    """``gw3`` -> 3; None for anything that is not an xdist worker id."""
    match = re.fullmatch(r"gw(\d+)", worker_id)
    return int(match[1]) if match else None


def pinned_gpu(gpus: Sequence[Gpu], worker: int) -> Gpu | None:
    """The GPU xdist worker ``worker`` gets: round-robin over ``gpus``; None without GPUs."""
    return gpus[worker % len(gpus)] if gpus else None


def _parse_fake(text: str) -> list[Gpu]:
    gpus = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        identifier, _, kind = entry.partition(":")
        gpus.append(Gpu(identifier.strip(), kind.strip()))
    return gpus


def _from_nvidia_smi() -> list[Gpu]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        completed = subprocess.run([smi, "--query-gpu=index,uuid,name", "--format=csv,noheader"], capture_output=True,
                                   text=True, timeout=_NVIDIA_SMI_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in completed.stdout.splitlines() if completed.returncode == 0 else ():
        parts = [part.strip() for part in line.split(",", 2)]
        if len(parts) == 3 and parts[0].isdigit():
            gpus.append(Gpu(parts[0], parts[2], parts[1]))
    return gpus


def _from_proc() -> list[Gpu]:
    """The driver's own list (Linux), in PCI bus order, as nvidia-smi numbers them."""
    try:
        folders = sorted(_PROC_GPUS.iterdir())
    except OSError:
        return []
    gpus = []
    for index, folder in enumerate(folders):
        try:
            fields = dict(line.split(":", 1) for line in (folder / "information").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        gpus.append(Gpu(str(index), fields.get("Model", "").strip(), fields.get("GPU UUID", "").strip()))
    return gpus
