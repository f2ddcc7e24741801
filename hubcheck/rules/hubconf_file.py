"""Rules about the repo's files: hubconf.py present and parseable, every reached file analysed, and
suppressions that name real rules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, is_rule_code, rule
from hubcheck.rules.context import LintContext
from hubcheck.rules.suppression import suppression_paths, suppressions_in
from hubcheck.static.source import (
    MAX_NESTING,
    MAX_SOURCE_BYTES,
    SourceProblem,
    SourceProblemKind,
    file_problem,
)

_SITE_DIRECTORIES = frozenset({"site-packages", "dist-packages"})

_FIXES = {
    SourceProblemKind.TOO_LARGE: (
        f"keep generated data out of Python source (a JSON file read at run time); hubcheck parses files up to "
        f"{MAX_SOURCE_BYTES:,} bytes"
    ),
    SourceProblemKind.TOO_DEEP: (
        f"flatten it (a dict of cases instead of a long elif chain, a list instead of a long `+` chain); "
        f"hubcheck analyses up to {MAX_NESTING} levels of nesting"
    ),
    SourceProblemKind.DOES_NOT_PARSE: "fix it; `python -m py_compile {file}` shows the error too",
    SourceProblemKind.NOT_A_FILE: "make it a regular file, or remove what imports it",
    SourceProblemKind.UNREADABLE: "make it readable, or remove what imports it",
    SourceProblemKind.MISSING: "restore the file, or remove what imports it",
}


@rule(
    code="HUB001",
    name="hubconf-missing",
    severity=Severity.ERROR,
    message="hubconf.py {problem}: torch.hub cannot load anything from this repo",
    fix="make hubconf.py a regular Python file at the repo root (`hubcheck init` writes a documented one)",
)
def hubconf_missing(ctx: LintContext):
    """
    ## What it does
    Checks that the repo root holds a regular file named hubconf.py: not a
    directory, FIFO, device or socket, nor a link that is broken or loops.

    ## Why is this bad?
    torch.hub.list, help and load all start by importing `<repo>/hubconf.py`;
    without it every call fails with a FileNotFoundError, whatever else the
    repo contains. torch.hub only looks at the root, never in subdirectories.

    ## Example
    ```
    my_repo/
        models/hubconf.py
    ```

    ## Use instead
    ```
    my_repo/
        hubconf.py
        models/
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#publishing-models
    """
    path = ctx.hubconf_path
    problem = file_problem(path)
    if problem is None:
        return
    if problem.kind is SourceProblemKind.MISSING:
        yield Violation(path, None, None, {"problem": "is missing at the repo root"})
    elif problem.kind is SourceProblemKind.NOT_A_FILE:
        yield Violation(path, None, None, {"problem": problem.reason})


@rule(
    code="HUB002",
    name="hubconf-syntax-error",
    severity=Severity.ERROR,
    message="hubconf.py does not parse: {reason}",
    fix="fix the syntax error; `python -m py_compile hubconf.py` shows it too",
)
def hubconf_syntax_error(ctx: LintContext):
    """
    ## What it does
    Checks that hubconf.py is valid Python source in a readable encoding.

    ## Why is this bad?
    torch.hub executes hubconf.py for every list, help and load call; a syntax
    error, a null byte or bytes that are not valid in the file's encoding make
    every one of them fail before any entry point is reached. hubcheck can
    check nothing else in the file either.

    ## Example
    ```python
    def resnet18(pretrained=True:
        ...
    ```

    ## Use instead
    ```python
    def resnet18(pretrained=True):
        \"\"\"ResNet-18; `pretrained` loads the ImageNet weights.\"\"\"
        ...
    ```

    ## References
    - https://docs.python.org/3/reference/lexical_analysis.html#encoding-declarations
    """
    error = ctx.hubconf_error
    if error is not None and not error.problem.python_runs_it:
        reason = error.reason if error.problem.kind is SourceProblemKind.DOES_NOT_PARSE else f"it {error.problem.reason}"
        yield Violation(error.path, error.line, error.column, {"reason": reason})


@rule(
    code="HUB010",
    name="invalid-suppression",
    severity=Severity.WARNING,
    message="suppression comment names unknown rule code(s) {codes}",
    fix="name existing codes (`hubcheck rules` lists them), e.g. `# hubcheck: ignore[HUB203]`",
)
def invalid_suppression(ctx: LintContext):
    """
    ## What it does
    Checks that every `# hubcheck: ignore[...]` comment in the repo's reached code
    names rule codes that exist.

    ## Why is this bad?
    A misspelt code suppresses nothing, so the finding the author meant to
    silence keeps appearing, or worse, a later rule renumbering leaves a stale
    comment that hides nothing and misleads readers.

    ## Example
    ```python
    weights = torch.load("w.pth", map_location="cpu", weights_only=True)  # hubcheck: ignore[HUB230]
    ```

    ## Use instead
    ```python
    weights = torch.load("w.pth", map_location="cpu", weights_only=True)  # hubcheck: ignore[HUB203]
    ```

    ## References
    - `hubcheck rules` lists every code.
    """
    for path in suppression_paths(ctx):
        for suppression in suppressions_in(path):
            unknown = [code for code in suppression.codes if not is_rule_code(code)]
            if unknown or not suppression.codes:
                codes = ", ".join(unknown) if unknown else "(none)"
                yield Violation(path, suppression.line, suppression.column, {"codes": codes})




@rule(
    code="HUB011",
    name="source-not-analysed",
    severity=Severity.WARNING,
    message="{file} {problem}, so hubcheck checked nothing in it",
    fix="{fix}",
)
def source_not_analysed(ctx: LintContext):
    """
    ## What it does
    Reports each repo file that hubconf reaches but hubcheck could not read or
    analyse: larger than 1 MB, nested deeper than 200 levels (a long `elif`
    chain, a generated expression), not parseable, not a regular file (a FIFO,
    a device, a broken link or a link loop) or unreadable.

    ## Why is this bad?
    Nothing in such a file is checked, so a clean lint would be a false promise.
    Files Python cannot read also break `torch.hub.load` when hubconf imports
    them; files over hubcheck's bounds load fine but hide whatever they hold.

    ## Example
    ```python
    # models/tables.py, 8 MB of generated code
    WEIGHTS = {"resnet18_0": [0.0123, -0.4410, ...], ...}
    ```

    ## Use instead
    ```python
    # models/tables.py reads data shipped as a file beside it
    import json
    import pathlib

    WEIGHTS = json.loads((pathlib.Path(__file__).parent / "tables.json").read_text())
    ```

    ## References
    - The README's lint section states the bounds: files up to 1 MB, 200 levels of nesting.
    """
    error = ctx.hubconf_error
    if error is not None and error.problem.python_runs_it:
        yield _not_analysed(ctx, error.problem)
    if not ctx.units:  # following the code from hubconf is what reads the files it reaches
        return
    problems = {path: problem for path, problem in ctx.index.unreadable.items() if _is_repo_file(path, ctx)}
    for problem in _imported_non_files(ctx):
        problems.setdefault(problem.path, problem)
    for _, problem in sorted(problems.items()):
        yield _not_analysed(ctx, problem)


def _imported_non_files(ctx: LintContext) -> Iterator[SourceProblem]:
    """Modules hubconf imports whose ``.py`` file in the repo is there but is not a regular file (a FIFO, a
    link loop): the import system passes over such names, so they never reach the module index."""
    for imported in ctx.model.imports if ctx.model is not None else ():
        if imported.relative:
            continue
        candidate = ctx.repo_root.joinpath(*imported.name.split(".")).with_suffix(".py")
        problem = file_problem(candidate) if os.path.lexists(candidate) else None
        if problem is not None and problem.kind is SourceProblemKind.NOT_A_FILE:
            yield problem


def _not_analysed(ctx: LintContext, problem: SourceProblem) -> Violation:
    try:
        name = problem.path.relative_to(ctx.repo_root).as_posix()
    except ValueError:
        name = problem.path.name
    return Violation(problem.path, problem.line, problem.column,
                     {"file": name, "problem": problem.sentence, "fix": _FIXES[problem.kind].format(file=name)})


def _is_repo_file(path: Path, ctx: LintContext) -> bool:
    """Inside the repo and not in a virtual environment kept there."""
    try:
        parts = path.relative_to(ctx.repo_root).parts
    except ValueError:
        return False
    return not _SITE_DIRECTORIES.intersection(parts)

