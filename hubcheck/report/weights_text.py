"""``hubcheck weights`` reports: text and JSON of the weights found and what checking them gave."""

from __future__ import annotations

import json
from collections.abc import Sequence

from hubcheck import __version__
from hubcheck.weights import WeightRef
from hubcheck.weights_verify import FAILED, NOT_CHECKED, PASSED, Verification

Checked = tuple[WeightRef, Verification | None]


def _hash_line(ref: WeightRef) -> str:
    if ref.kind != "url":
        return ""
    name = ref.file_name or "(a name decided at run time)"
    carried = f"hash prefix {ref.hash_prefix}" if ref.hash_prefix else "no `-<hex>.` hash prefix"
    checked = {True: "the call checks the hash", False: "the call checks no hash",
               None: "whether the call checks the hash is decided at run time"}[ref.hash_checked]
    if ref.hash_checked and not ref.hash_prefix:
        checked = "check_hash=True, but with no prefix in the name torch.hub checks nothing"
    return f"    file {name}: {carried}; {checked}\n"


def format_weights_text(repo: str, checked: Sequence[Checked]) -> str:
    """One block per weight, then a summary line."""
    out = []
    for ref, verification in checked:
        sites = ", ".join(f"{site.path}:{site.line}" for site in ref.sites)
        loaders = ", ".join(sorted({site.loader.rsplit(".", 1)[-1] for site in ref.sites}))
        out.append(f"{ref.location}{'  (unresolved)' if ref.kind == 'unresolved' else ''}\n"
                   f"    {loaders} at {sites}; entry points: {', '.join(ref.entrypoints)}\n{_hash_line(ref)}")
        if verification is not None:
            out.append(f"    {verification.status.upper()}: {verification.message}\n")
    out.append(summary_line(repo, checked) + "\n")
    return "".join(out)


def summary_line(repo: str, checked: Sequence[Checked]) -> str:
    counts = _counts(checked)
    verified = ""
    if any(verification is not None for _, verification in checked):
        verified = f": {counts[PASSED]} passed, {counts[FAILED]} failed, {counts[NOT_CHECKED]} not checked"
    urls = sum(ref.kind == "url" for ref, _ in checked)
    return f"Found {len(checked)} weight(s) ({urls} URL(s)) in {repo}{verified}."


def format_weights_json(repo: dict, checked: Sequence[Checked]) -> str:
    data = {
        "hubcheck_version": __version__,
        "command": "weights",
        "repo": repo,
        "weights": [{**ref.to_json(), "verification": verification.to_json() if verification else None}
                    for ref, verification in checked],
        "summary": {"weights": len(checked), **{key.replace("-", "_"): value for key, value in _counts(checked).items()}},
    }
    return json.dumps(data, indent=2) + "\n"


def _counts(checked: Sequence[Checked]) -> dict[str, int]:
    statuses = [verification.status for _, verification in checked if verification is not None]
    return {status: statuses.count(status) for status in (PASSED, FAILED, NOT_CHECKED)}
