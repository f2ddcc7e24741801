"""The model checks: what a hub model must survive beyond one forward, each declared once.

Every check here runs after ``forward`` on each device, in the worker that ran
the entry point (:mod:`hubcheck.worker.model_checks`); the judge, a fork where
no repo code ran, compares what it wrote (:mod:`hubcheck.worker.model_verdicts`).
``hubcheck validate --check NAME``, ``[validate] checks = [...]``, the plugin's
``--hubcheck-check NAME`` and its ``hubcheck_<name>`` markers all read
:data:`MODEL_CHECKS`, and so does the README's table. This module imports
nothing heavy: the pytest plugin reads it at configure time.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

ALL = "all"
"""The word that selects every model check."""
DEFAULT = "default"
"""The word that selects the checks marked ``default``, to add others to them."""
NONE = "none"
"""The word that turns every model check off."""


@dataclass(frozen=True)
class ModelCheck:
    """One model check: its id (the check's name in results), whether it runs by default, and why."""

    id: str
    description: str
    """What passing means, for ``--help`` and the README."""
    default: bool
    cost: str
    """What it adds, measured on reference_repo (benchmarks/model_checks.py), and its false-alarm risk."""

    @property
    def marker(self) -> str:
        """The pytest marker of its items: ``hubcheck_batch_invariance``."""
        return "hubcheck_" + self.id.replace("-", "_")


MODEL_CHECKS: tuple[ModelCheck, ...] = (
    ModelCheck("backward", "in train() mode a scalar of the outputs back-propagates, every parameter that requires "
                           "grad gets a finite gradient, and one SGD step changes the outputs", False,
               "a train-mode forward, a backward and a second forward; models that need targets in train mode, "
               "batch-norm on one sample and deliberately unused heads fail it"),
    ModelCheck("batch-invariance", "in eval() each row of a batch gives the output that row gives alone", True,
               "one forward per row (at most 4 rows), on small inputs; false alarms only from models that mix "
               "samples on purpose"),
    ModelCheck("torchscript", "torch.jit.script (else torch.jit.trace, said which) reproduces eager outputs and "
                              "survives save and load", False,
               "scripting or tracing the model; most modern models are not scriptable, and TorchScript is "
               "deprecated in recent torch"),
    ModelCheck("compile", "torch.compile (inductor where a C compiler is present, else aot_eager) matches eager "
                          "outputs within a time limit", False,
               "seconds to minutes of compilation (inductor on the reference MLP: about 15 s cold)"),
    ModelCheck("export", "torch.export.export succeeds on the example inputs (batch dimension dynamic where "
                         "possible) and the exported program matches eager", False,
               "tracing the model (about 1.5 s for the reference MLP); data-dependent control flow refuses"),
    ModelCheck("dtype", "bfloat16 on the CPU (float16 on CUDA) runs and stays within rtol 0.05 and 5% of the "
                        "largest output of float32; names ops computed in float32 instead", False,
               "a copy of the model in low precision and one forward; low precision drifts in deep models"),
    ModelCheck("channels-last", "for 4-D inputs, the model and input in channels_last give the same outputs",
               False, "one forward, only for 4-D float inputs (a skip on every other model: noise in most "
                      "reports); kernels differ, so compared within tolerance"),
    ModelCheck("threads", "outputs with one thread and with several agree within tolerance", True,
               "two forwards; reductions split across threads differ only in rounding"),
    ModelCheck("co-load", "the repo loads and runs after another hub repo with modules named utils and models, "
                          "and that repo still works after it (the dynamic proof of HUB303)", False,
               "a second load of the entry point and a generated two-module repo; reliable, but a full load "
               "is the cost of a large model"),
)
BY_ID = {check.id: check for check in MODEL_CHECKS}
IDS = tuple(BY_ID)
DEFAULT_IDS = tuple(check.id for check in MODEL_CHECKS if check.default)


def check_names_problem(names: tuple[str, ...] | list[str]) -> str | None:
    """None when every name is a model check or ``all``/``default``/``none``; otherwise what is wrong."""
    words = (*IDS, ALL, DEFAULT, NONE)
    for name in names:
        if name not in words:
            close = difflib.get_close_matches(name, words, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown check {name!r}{hint}; known: {', '.join(IDS)}, or all, default, none"
    return None


def selected(requested: tuple[str, ...] | None, configured: tuple[str, ...] | None) -> tuple[str, ...]:
    """The model checks a run gets, in declaration order: ``--check`` words, else ``[validate] checks``, else the
    defaults. ``all`` adds every check, ``default`` the defaults, ``none`` nothing: ``--check default --check
    compile`` is the defaults plus compile."""
    words = requested if requested else configured
    if words is None:
        return DEFAULT_IDS
    chosen: set[str] = set()
    for word in words:
        chosen.update(IDS if word == ALL else DEFAULT_IDS if word == DEFAULT else () if word == NONE else (word,))
    return tuple(check for check in IDS if check in chosen)
