"""Mechanical fixes for the findings that have one, applied to the syntax tree with libcst.

libcst round-trips source exactly (comments, spacing, quotes), so a fix changes only the
call or statement it is about. Planning a fix reads the repo and writes nothing;
:func:`apply_fixes` is the only code that writes into a checked repo, and only for
``hubcheck lint --fix``.
"""

from __future__ import annotations

from pathlib import Path

from hubcheck.fileio import atomic_write_bytes
from hubcheck.findings import Finding
from hubcheck.fixes.file_fix import FileFix

FIXABLE_RULES = ("HUB003", "HUB201", "HUB202")
"""The rules whose findings ``--fix`` can repair without changing anything else."""


def plan_fixes(repo_root: Path, findings: tuple[Finding, ...]) -> tuple[FileFix, ...]:
    """The fixes for ``findings`` that have one, one per file that changes; nothing is written."""
    from hubcheck.fixes.source import fix_file

    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.code in FIXABLE_RULES:
            by_path.setdefault(finding.path, []).append(finding)
    dependencies = needed_dependencies(repo_root) if any(f.code == "HUB003" for f in findings) else ()
    planned = (fix_file(repo_root, path, tuple(found), dependencies) for path, found in sorted(by_path.items()))
    return tuple(fix for fix in planned if fix is not None)


def needed_dependencies(repo_root: Path) -> tuple[str, ...]:
    """What a new ``dependencies`` list names: torch, then each third-party module HUB007 would ask for
    (imports hubconf and the code it reaches make unguarded, in the order they are met); imports
    guarded by ``except ImportError`` stay optional."""
    from hubcheck.lint import build_context
    from hubcheck.rules.dependencies import undeclared_import

    modules = [str(v.args["module"]) for v in undeclared_import(build_context(repo_root.resolve()))]
    return ("torch", *dict.fromkeys(m for m in modules if m != "torch"))


def apply_fixes(repo_root: Path, fixes: tuple[FileFix, ...]) -> None:
    """Write each fixed file atomically (a reader sees the old file or the new one).

    Raises:
        OSError: a file cannot be written.
    """
    for fix in fixes:
        # Through a link, the file it names is what the repo holds; replacing the link would unlink it.
        atomic_write_bytes((repo_root / fix.path).resolve(), fix.after)
