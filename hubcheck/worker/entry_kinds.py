"""What an entry point returned, seen as the thing the checks run on.

Most entry points return an ``nn.Module``; about a quarter of real hub repos
return something else, and each kind gets a stated meaning instead of a
silent skip:

- a **tuple or list** (``model, utils``, ``model, postprocessor``): its first
  ``nn.Module`` element is the model that load, forward and the state dict
  check, and load's message says which element;
- a **GAN wrapper** with pytorch_GAN_zoo's surface (``buildNoiseData(n)``,
  ``test(noise)`` and ``getNetG()`` or ``netG``): forward is ``test`` on noise
  shaped as ``buildNoiseData`` shapes it (a wrapper that is itself an
  ``nn.Module`` is called on it), and the state dict that round-trips is the
  generator's (the wrapper's own when it is an ``nn.Module``);
- a **loss** (``forward(input, target)``): forward runs on two inputs of one
  shape (see :mod:`.input_ladder`);
- anything else is the object itself (a pipeline driven by a configured method).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

_TARGET_NAMES = frozenset({"target", "targets", "label", "labels", "y", "gt", "y_true"})
"""Names of a loss's second argument."""


@dataclass(frozen=True)
class Subject:
    """The object the checks run on, and how the entry point's return value led to it."""

    model: Any
    """What load places and forward calls (the tuple's element, the wrapper itself)."""
    kind: str
    """``module``, ``element``, ``gan`` or ``object``."""
    note: str
    """How the return value was read, for load's message ("" for a plain module)."""
    state_module: torch.nn.Module | None
    """Whose state dict the round trip saves and loads, or None when nothing has one."""
    default_method: str | None = None
    """The method forward runs when none is configured and the model cannot be called (a GAN wrapper's ``test``)."""


def is_gan_wrapper(value: Any) -> bool:
    """pytorch_GAN_zoo's hub surface: ``buildNoiseData``, ``test`` and a generator (``getNetG()`` or ``netG``)."""
    return (callable(getattr(value, "buildNoiseData", None)) and callable(getattr(value, "test", None))
            and (callable(getattr(value, "getNetG", None)) or isinstance(getattr(value, "netG", None), torch.nn.Module)))


def generator_of(wrapper: Any) -> tuple[torch.nn.Module | None, str]:
    """The generator ``test`` runs and how it was reached: ``getOriginalG()``, else ``netG`` (unwrapped from
    ``DataParallel``), and only then ``getNetG()``, which in the GAN zoo builds a new, untrained generator."""
    if callable(getattr(wrapper, "getOriginalG", None)):
        generator = wrapper.getOriginalG()
        if isinstance(generator, torch.nn.Module):
            return generator, "getOriginalG()"
    generator = getattr(wrapper, "netG", None)
    if isinstance(generator, torch.nn.DataParallel):
        return generator.module, "netG.module"
    if isinstance(generator, torch.nn.Module):
        return generator, "netG"
    if callable(getattr(wrapper, "getNetG", None)):
        generator = wrapper.getNetG()
        if isinstance(generator, torch.nn.Module):
            return generator, "getNetG()"
    return None, ""


def is_loss(model: Any) -> bool:
    """A loss module: a ``torch.nn`` loss, or a module whose ``forward`` takes an input and a target."""
    if isinstance(model, torch.nn.modules.loss._Loss):
        return True
    if not isinstance(model, torch.nn.Module):
        return False
    try:
        parameters = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 and positional[1].name.lower() in _TARGET_NAMES


def subject_of(returned: Any) -> Subject:
    """The :class:`Subject` the checks of an entry point run on, from what it returned."""
    if is_gan_wrapper(returned):
        generator, reached = generator_of(returned)
        if isinstance(returned, torch.nn.Module):
            # A module like any other (forward's message says when its noise came from buildNoiseData).
            return Subject(returned, "gan", "", returned)
        where = (f"that of its generator, {reached} ({type(generator).__name__})" if generator is not None
                 else "none (no generator)")
        return Subject(returned, "gan", f"a GAN wrapper (pytorch_GAN_zoo surface), run by its test() unless a method "
                                        f"is configured; the state dict checked is {where}",
                       generator, "test")
    if isinstance(returned, torch.nn.Module):
        return Subject(returned, "module", "", returned)
    if isinstance(returned, (tuple, list)):
        index = next((i for i, item in enumerate(returned) if isinstance(item, torch.nn.Module)), None)
        if index is not None:
            element = returned[index]
            others = ", ".join(type(item).__name__ for i, item in enumerate(returned) if i != index) or "nothing"
            return Subject(element, "element", f"returned a {type(returned).__name__} of {len(returned)} items; "
                                               f"element [{index}] ({type(element).__name__}) is checked as the "
                                               f"model (the others: {others})", element)
    return Subject(returned, "object", "", None)
