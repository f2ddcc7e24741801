"""Rules about hubconf.py as a file: present, parseable, and suppressions that name real rules."""

from __future__ import annotations

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.rules.suppression import suppressions_in


@rule(
    code="HUB001",
    name="hubconf-missing",
    severity=Severity.ERROR,
    message="hubconf.py {problem}: torch.hub cannot load anything from this repo",
    fix="add a hubconf.py file at the repo root (`hubcheck init` writes a documented one)",
)
def hubconf_missing(ctx: LintContext):
    """
    ## What it does
    Checks that the repo root holds a file named hubconf.py.

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
    if path.is_dir():
        yield Violation(path, None, None, {"problem": "is a directory, not a file"})
    elif not path.exists():
        yield Violation(path, None, None, {"problem": "is missing at the repo root"})


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
    if error is not None:
        yield Violation(error.path, error.line, error.column, {"reason": error.reason})


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
    from hubcheck.rules import RETIRED_RULES, get_rule

    paths = {ctx.hubconf_path} if ctx.hubconf_path.is_file() else set()
    paths |= {unit.path for unit in ctx.units}
    for path in sorted(paths):
        for suppression in suppressions_in(path):
            unknown = [code for code in suppression.codes if get_rule(code) is None and code.upper() not in RETIRED_RULES]
            if unknown or not suppression.codes:
                codes = ", ".join(unknown) if unknown else "(none)"
                yield Violation(path, suppression.line, suppression.column, {"codes": codes})
