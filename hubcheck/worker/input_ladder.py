"""Example inputs that fit: candidates read off the model, tried in order until one runs.

A model says what it takes in several places: timm's ``pretrained_cfg`` /
``default_cfg`` (``input_size``), attributes such as ``img_size``,
``input_size`` or ``patch_size`` (on the model or its ``patch_embed``), and its
first ``Conv``, ``Linear`` or ``Embedding`` layer. From those comes a short
ladder of candidates (224 first for an ImageNet-style 3-channel conv, since a
fixed final pooling or a patch grid rejects small images), each tried until
one forward runs; the note says which ran and what was tried before it. Two kinds of
entry point (:mod:`.entry_kinds`) say it differently: a GAN wrapper's noise is
shaped as its own ``buildNoiseData`` shapes it, and a loss takes two inputs of
one shape (an input and a target).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from .entry_kinds import is_gan_wrapper, is_loss
from .inputs import DTYPE_NAMES

T = TypeVar("T")

_IMAGE_SIZES_RGB = (224, 256, 64, 32)
"""ImageNet's 224 first, then sizes of nets with another fixed pooling, then small and CIFAR-sized ones."""
_IMAGE_SIZES_OTHER = (64, 224, 32)
_SIGNAL_LENGTHS = (64, 256, 16000)
_VOLUME_SIZES = ((8, 32, 32), (16, 112, 112))
_LOSS_SHAPES = ([4, 10], [2, 3, 32, 32])
"""A batch of logits, then of images: a loss that takes one of them takes its target in the same shape."""
_NOISE_BATCH = 2
_LARGE_SPATIAL = 224
"""From this side length on a batch of one is enough (and keeps references small)."""
_MAX_ERROR_CHARS = 160
_SIZE_WORDS = re.compile(
    r"\b(shapes?|sizes?|dimensions?|dims?|mismatch|match|expected|kernel|channels?|mat1|multiple|divisible|"
    r"too small|broadcast|stack|out of range|out of bounds)\b"
)
"""Words of an error about the input's shape; any other error is the model's own, and ends the ladder."""


def is_about_input_size(error: BaseException) -> bool:
    """Whether an error may come from the input's shape (then another candidate may fit)."""
    text = str(error).lower()
    return isinstance(error, (RuntimeError, ValueError, IndexError, AssertionError, TypeError)) and (
        not text or _SIZE_WORDS.search(text) is not None)


@dataclass(frozen=True)
class Candidate:
    """One example input to try, and where it came from."""

    specs: tuple[dict[str, Any], ...]
    source: str

    @property
    def label(self) -> str:
        return ", ".join(f"{spec['dtype']} {spec['shape']}" for spec in self.specs)


class NoInputFits(Exception):
    """No candidate ran (or none could be read off the model); the message says what was tried."""


def _spec(shape: list[int], dtype: str = "float32") -> dict[str, Any]:
    return {"shape": shape, "dtype": dtype, "distribution": "normal", "low": 0.0, "high": 1.0, "seed": None}


def _first_layer(model: torch.nn.Module) -> torch.nn.Module | None:
    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear, torch.nn.Embedding)
    transposed = (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)
    return next((m for m in model.modules() if isinstance(m, kinds) and not isinstance(m, transposed)), None)


def _pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return int(value[0]), int(value[1])
    return None


def _declared_size(model: torch.nn.Module) -> tuple[int | None, tuple[int, int] | None, tuple[int, int] | None, str]:
    """``(channels, (height, width), patch, where)`` as the model's own attributes state them."""
    channels: int | None = None
    size: tuple[int, int] | None = None
    patch: tuple[int, int] | None = None
    where = ""
    for holder_name, holder in (("model", model), ("patch_embed", getattr(model, "patch_embed", None))):
        if holder is None:
            continue
        for name in ("pretrained_cfg", "default_cfg"):
            config = getattr(holder, name, None)
            value = config.get("input_size") if isinstance(config, dict) else None
            if size is None and isinstance(value, (tuple, list)) and len(value) == 3 and _pair(tuple(value[1:])):
                channels, size, where = int(value[0]), _pair(tuple(value[1:])), f"{name}['input_size']"
        for name in ("input_size", "img_size", "image_size"):
            value = getattr(holder, name, None)
            if size is None and isinstance(value, (tuple, list)) and len(value) == 3 and _pair(tuple(value[1:])):
                channels, size, where = int(value[0]), _pair(tuple(value[1:])), f"{holder_name}.{name}"
            elif size is None and _pair(value):
                size, where = _pair(value), f"{holder_name}.{name}"
        if patch is None and _pair(getattr(holder, "patch_size", None)):
            patch = _pair(getattr(holder, "patch_size", None))
    return channels, size, patch, where


def _round_up(size: tuple[int, int], patch: tuple[int, int] | None) -> tuple[int, int]:
    if patch is None:
        return size
    return tuple(-(-side // step) * step for side, step in zip(size, patch, strict=True))  # type: ignore[return-value]


def _noise_candidates(wrapper: Any) -> list[Candidate]:
    """Noise shaped as the GAN wrapper's ``buildNoiseData`` makes it (made again from a seed, so it can be stored)."""
    noise = wrapper.buildNoiseData(_NOISE_BATCH)
    if isinstance(noise, (tuple, list)) and noise:
        noise = noise[0]  # the GAN zoo returns (latent vectors, labels of a conditional model)
    if not isinstance(noise, torch.Tensor) or not noise.dtype.is_floating_point:
        return []
    spec = _spec(list(noise.shape), DTYPE_NAMES.get(noise.dtype, "float32"))
    return [Candidate((spec,), f"the GAN wrapper's buildNoiseData({_NOISE_BATCH})")]


def candidates(model: Any) -> list[Candidate]:
    """The example inputs to try on ``model``, best first; empty when nothing says what it takes."""
    if is_gan_wrapper(model):
        return _noise_candidates(model)
    if not isinstance(model, torch.nn.Module):
        return []
    if is_loss(model):
        return [Candidate((_spec(shape), _spec(shape)), "a loss's forward(input, target): two inputs of one shape")
                for shape in _LOSS_SHAPES]
    first = _first_layer(model)
    channels, declared, patch, where = _declared_size(model)
    dtype = "float32"
    if first is not None and any(True for _ in first.parameters()):
        dtype = DTYPE_NAMES.get(next(first.parameters()).dtype, "float32")
    found: list[Candidate] = []
    if isinstance(first, torch.nn.Linear) and declared is None:
        found.append(Candidate((_spec([2, first.in_features], dtype),), f"the first layer Linear({first.in_features}, "
                                                                       f"{first.out_features})"))
    elif isinstance(first, torch.nn.Embedding):
        spec = {**_spec([2, 16], "int64"), "distribution": "randint", "high": first.num_embeddings}
        found.append(Candidate((spec,), f"the first layer Embedding({first.num_embeddings}, {first.embedding_dim})"))
    elif isinstance(first, torch.nn.Conv1d):
        found += [Candidate((_spec([2, first.in_channels, length], dtype),), "the first layer Conv1d")
                  for length in _SIGNAL_LENGTHS]
    elif isinstance(first, torch.nn.Conv3d):
        found += [Candidate((_spec([2, first.in_channels, *size], dtype),), "the first layer Conv3d")
                  for size in _VOLUME_SIZES]
    elif isinstance(first, torch.nn.Conv2d) or declared is not None:
        in_channels = channels or (first.in_channels if isinstance(first, torch.nn.Conv2d) else 3)
        sizes: list[tuple[tuple[int, int], str]] = []
        if declared is not None:
            sizes.append((_round_up(declared, patch), where))
        layer = "the first layer Conv2d" if isinstance(first, torch.nn.Conv2d) else "the conventional image size"
        ladder = _IMAGE_SIZES_RGB if in_channels == 3 else _IMAGE_SIZES_OTHER
        note = f" (a multiple of patch_size {patch[0]})" if patch else ""
        sizes += [(_round_up((side, side), patch), layer + note) for side in ladder]
        seen: set[tuple[int, int]] = set()
        for size, source in sizes:
            if size in seen:
                continue
            seen.add(size)
            batch = 1 if min(size) >= _LARGE_SPATIAL else 2
            found.append(Candidate((_spec([batch, in_channels, *size], dtype),), source))
    return found


def _nothing_to_infer(model: Any) -> str:
    if is_gan_wrapper(model):
        return "its buildNoiseData() returned no floating-point tensor, so no noise can be inferred"
    if not isinstance(model, torch.nn.Module):
        return f"the entry point returns a {type(model).__name__}, not an nn.Module, and nothing says what it takes"
    return ("no example input declared and none can be inferred from the model (no Conv, Linear or Embedding "
            "layer, no input_size, img_size or pretrained_cfg)")


def fit_inputs(
    model: Any,
    attempt: Callable[[list[dict[str, Any]]], T],
    passthrough: tuple[type[BaseException], ...] = (),
) -> tuple[list[dict[str, Any]], T, str]:
    """Run ``attempt`` on each candidate until one returns: ``(its specs, what it returned, a note)``.

    Exceptions in ``passthrough`` (the model is no callable, say) end the search at once, and so does
    an error that says nothing about sizes (``Found no NVIDIA driver``): it is raised, for forward to fail.

    Raises:
        NoInputFits: nothing could be read off the model, or every candidate raised.
    """
    tried: list[str] = []
    found = candidates(model)
    if not found:
        raise NoInputFits(f"{_nothing_to_infer(model)}; the input must be declared")
    for candidate in found:
        try:
            result = attempt([dict(spec) for spec in candidate.specs])
        except passthrough:
            raise
        except Exception as error:  # a candidate that does not fit is the expected case
            if not is_about_input_size(error):
                raise
            text = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
            tried.append(f"{candidate.label} ({text[:_MAX_ERROR_CHARS]})")
            continue
        note = f"input inferred from {candidate.source}: {candidate.label}"
        if tried:
            note += f"; tried first: {'; '.join(tried)}"
        return [dict(spec) for spec in candidate.specs], result, note
    raise NoInputFits(f"none of the inferred inputs fit: {'; '.join(tried)}; the input must be declared")
