"""The model checks' benchmark case: what the default set adds to ``validate reference_repo``, and each opt-in check's cost.

The timed pair is ``hubcheck validate reference_repo --device cpu`` (the default model checks on) against the same
command with ``--check none``; the target is the default set adding at most 10% (the ``validate`` case measures the
whole command, defaults included, against the bare script's 1.25x). Outside ``--quick``, each opt-in check is then
run alone (``--check NAME``, one round after a warm-up) and its cost over ``--check none`` (wall and CPU time) goes
into the notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from measure import Command, alternate, hubcheck_command, median

if TYPE_CHECKING:
    from cases import CaseResult, Context

OPT_IN_ROUNDS = 1


def model_checks(context: Context) -> CaseResult:
    from cases import QUICK, CaseResult, _shown

    from hubcheck.model_checks import MODEL_CHECKS

    repo = str(context.reference_repo())

    def validate(*checks: str) -> Command:
        return Command(hubcheck_command("validate", repo, "--device", "cpu", *[w for c in checks for w in ("--check", c)]))

    defaults, bare = validate(), validate("none")
    result = CaseResult("model checks, default set on reference_repo", "s", 1.1, "<= 1.1x", _shown(defaults),
                        _shown(bare))
    if context.settings is QUICK:
        # CI's smoke run only proves the case works: one round (after the warm-up that fills the page cache for
        # both sides alike), no opt-in checks.
        context.timed(result, defaults, bare, rounds=1)
        result.notes.append("opt-in checks' costs: not measured in --quick")
        return result
    context.timed(result, defaults, bare)
    for check in (c for c in MODEL_CHECKS if not c.default):
        alone, without = alternate(validate(check.id).timed, bare.timed, OPT_IN_ROUNDS)
        # CPU time tells the work a check adds apart from waiting for a busy machine.
        cpu, cpu_without = median([c for _, c in alone]), median([c for _, c in without])
        result.notes.append(f"--check {check.id}: wall {median([w for w, _ in alone]):.2f} s against "
                            f"{median([w for w, _ in without]):.2f} s with --check none; CPU {cpu:.2f} s against "
                            f"{cpu_without:.2f} s (+{cpu - cpu_without:.2f} s)")
    return result
