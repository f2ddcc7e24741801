"""Rules about the repo's documentation: the torch.hub snippets users copy must work (HUB401-HUB404).

The snippets come from :mod:`hubcheck.static.snippets` (README, docs, reST, notebooks and
docstrings, parsed with ``ast``); which of them load *this* repo is
:func:`~hubcheck.static.snippets.names_this_repo`'s decision.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from hubcheck.findings import Severity, notebook_place
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.model import EntryPoint
from hubcheck.static.snippets import HubCall, names_this_repo, repo_names

# torch/hub.py's _TRUSTED_REPO_OWNERS: their repos never prompt.
TRUSTED_OWNERS = frozenset({"pytorch", "facebookresearch", "facebookincubator", "fairinternal"})


def _at(call: HubCall, args: dict, entrypoint: str | None = None) -> Violation:
    # A notebook has no line of the file to point at: the message names the cell and the line within it instead.
    cell = f" ({notebook_place(call.cell, call.cell_line)})" if call.cell is not None and call.cell_line else ""
    return Violation(call.path, call.line, call.column, {**args, "cell": cell}, entrypoint)


# A snippet pinned to another release (`owner/name:v1.0`) documents that release's entry points.
_CURRENT_REFS = frozenset({"main", "master"})


def _own_calls(ctx: LintContext) -> Iterator[HubCall]:
    """The documented calls that load this repo's current code by a literal entry point name."""
    if ctx.model is None:
        return
    names = repo_names(ctx.repo_root)
    for call in ctx.hub_calls:
        if call.function == "list" or call.entrypoint is None or not names_this_repo(call, ctx.repo_root, names):
            continue
        pinned = call.repo.partition(":")[2] if call.github is not None and call.repo else ""
        if not pinned or pinned in _CURRENT_REFS:
            yield call


@rule(
    code="HUB401",
    name="doc-snippet-unknown-entrypoint",
    severity=Severity.ERROR,
    message="the docs{cell} call torch.hub.{function} with entry point {entrypoint!r}, which hubconf.py does not define"
            "{hint}",
    fix="{remedy}",
)
def doc_snippet_unknown_entrypoint(ctx: LintContext):
    """
    ## What it does
    Checks every `torch.hub.load(...)` and `torch.hub.help(...)` written in the
    repo's documentation (README.md and other top-level Markdown and reST,
    `docs/`, notebooks' code cells and markdown cells, docstrings) that loads
    this repo (a finding in a notebook names its cell): the entry
    point it names must be one hubconf.py defines. A snippet loads this repo when
    its `owner/name` has the name of the checkout's git remote or directory, or
    when it is `source="local"` with `"."` or the directory's name. A snippet
    pinned to a release other than `main` or `master` (`owner/name:v1.0`)
    documents that release and is not judged. Where the entry point list is
    built at run time, names static reading cannot see are not reported.

    ## Why is this bad?
    The README is where users copy their first call from. An entry point that
    was renamed or never existed fails with `RuntimeError: Cannot find callable`
    on the very first try.

    ## Example
    ```python
    # README.md, while hubconf.py defines `resnet50`
    model = torch.hub.load("acme/zoo", "resnet_50", trust_repo=True)
    ```

    ## Use instead
    ```python
    def resnet50():
        '''ResNet-50, documented with the name hubconf.py defines:

        >>> model = torch.hub.load("acme/zoo", "resnet50", trust_repo=True)
        '''
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load
    """
    model = ctx.model
    if model is None:
        return
    for call in _own_calls(ctx):
        if model.entrypoint(call.entrypoint or "") is not None or not model.complete:
            continue
        known = [entry.name for entry in model.entrypoints]
        close = difflib.get_close_matches(call.entrypoint or "", known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        remedy = (f"name {close[0]!r}" if close else
                  f"name one of {', '.join(known[:5])}{' ...' if len(known) > 5 else ''}" if known else
                  "define the entry point in hubconf.py")
        yield _at(call, {"function": call.function, "entrypoint": call.entrypoint, "hint": hint, "remedy": remedy})


@rule(
    code="HUB402",
    name="doc-snippet-wrong-arguments",
    severity=Severity.ERROR,
    message="the docs{cell} call {entrypoint}() with {problem}",
    fix="{remedy}",
)
def doc_snippet_wrong_arguments(ctx: LintContext):
    """
    ## What it does
    Checks that every documented `torch.hub.load(...)` of this repo (see HUB401
    for which snippets count) passes arguments the entry point's signature
    accepts: keyword arguments it names (anything, when it takes `**kwargs`), no
    more positional arguments than it has, and every required argument.
    torch.hub's own keywords (`source`, `trust_repo`, `force_reload`, `verbose`,
    `skip_validation`) never reach the entry point and are not counted. A call
    with `*args` or `**kwargs` of its own is not judged, nor an entry point
    whose signature cannot be read statically.

    ## Why is this bad?
    A documented keyword that the entry point no longer takes fails with
    `TypeError: got an unexpected keyword argument` for everyone who copies it.

    ## Example
    ```python
    # hubconf.py: def resnet50(pretrained=False, num_classes=1000)
    torch.hub.load("acme/zoo", "resnet50", pretrained=True, classes=10, trust_repo=True)
    ```

    ## Use instead
    ```python
    def resnet50(pretrained=False, num_classes=1000):
        '''ResNet-50, documented with the keywords it takes:

        >>> torch.hub.load("acme/zoo", "resnet50", pretrained=True, num_classes=10, trust_repo=True)

        Args:
            pretrained: load the trained weights.
            num_classes: outputs of the classifier.
        '''
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load
    """
    model = ctx.model
    if model is None:
        return
    for call in _own_calls(ctx):
        entry = model.entrypoint(call.entrypoint or "")
        if call.function != "load" or entry is None or entry.parameters is None or call.splat:
            continue
        for problem, remedy in _argument_problems(call, entry):
            yield _at(call, {"entrypoint": entry.name, "problem": problem, "remedy": remedy}, entry.name)


def _argument_problems(call: HubCall, entry: EntryPoint) -> Iterator[tuple[str, str]]:
    parameters = entry.parameters or ()
    signature = f"{entry.name}{entry.signature}"
    takes_kwargs = any(param.kind == "var_keyword" for param in parameters)
    by_keyword = {param.name for param in parameters if param.kind in ("positional_or_keyword", "keyword_only")}
    for keyword in call.keywords:
        if keyword not in by_keyword and not takes_kwargs:
            close = difflib.get_close_matches(keyword, sorted(by_keyword), n=1)
            yield (f"keyword argument {keyword!r}, which {signature} does not take",
                   f"pass {close[0]!r}" if close else f"pass only what {signature} takes")
    positional = [param for param in parameters if param.kind in ("positional_only", "positional_or_keyword")]
    if call.positional > len(positional) and not any(param.kind == "var_positional" for param in parameters):
        yield (f"{call.positional} positional argument(s), but {signature} takes {len(positional)}",
               "pass the extra values by keyword, as the signature names them")
    filled = {param.name for param in positional[:call.positional]} | set(call.keywords)
    for param in parameters:
        if param.default is None and not param.is_variadic and param.name not in filled:
            yield (f"no value for its required parameter {param.name!r} ({signature})",
                   f"pass {param.name}=... in the snippet")


@rule(
    code="HUB403",
    name="doc-snippet-prompts-for-trust",
    severity=Severity.WARNING,
    message="the docs{cell} call torch.hub.{function}({repo}) {why}: torch.hub asks `Do you trust this repository?` "
            "with input(), which hangs a non-interactive run with stdin open and fails with EOFError with it closed",
    fix="pass `trust_repo=True` in the snippet (or say that users must answer the prompt once)",
)
def doc_snippet_prompts_for_trust(ctx: LintContext):
    """
    ## What it does
    Flags every GitHub-source `torch.hub.load`, `help` and `list` written in the
    documentation (whatever repo it loads) that will ask the user whether to
    trust the repo: `trust_repo` not passed or `"check"` (the default since
    torch 2.11) for an owner outside torch.hub's built-in trusted list
    (pytorch, facebookresearch, facebookincubator, fairinternal), and
    `trust_repo=False` for any owner.

    ## Why is this bad?
    The prompt is an `input()` call. In CI, a notebook server, a batch job or a
    service with stdin open, the call waits forever; with stdin closed it fails
    with EOFError. Users who copy the README into a script meet either.

    ## Example
    ```python
    model = torch.hub.load("acme/zoo", "resnet50")
    ```

    ## Use instead
    ```python
    def resnet50():
        '''ResNet-50, loaded without a prompt:

        >>> model = torch.hub.load("acme/zoo", "resnet50", trust_repo=True)
        '''
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load (`trust_repo`)
    """
    for call in ctx.hub_calls:
        github = call.github
        # A literal that is no `owner/name` (`"repo"`, a path) is a placeholder torch.hub refuses anyway.
        if call.source != "github" or (call.repo is not None and github is None):
            continue
        owner = github[0].lower() if github is not None else None
        if call.trust_repo == "False":
            why = "with trust_repo=False, which always prompts"
        elif call.trust_repo in (None, "'check'", '"check"') and owner not in TRUSTED_OWNERS:
            why = "without trust_repo" if call.trust_repo is None else "with trust_repo='check'"
        else:
            continue
        yield _at(call, {"function": call.function, "repo": repr(call.repo) if call.repo else "...", "why": why})


@rule(
    code="HUB404",
    name="doc-snippet-local-list-help",
    severity=Severity.ERROR,
    message="the docs{cell} call torch.hub.{function}(..., source=...): torch.hub.{function} takes no `source` "
            "(GitHub repos only), so the snippet raises TypeError",
    fix="list entry points with `hubcheck list DIR` or `dir(...)`; for a local checkout use "
        "`torch.hub.load(DIR, NAME, source='local')`",
)
def doc_snippet_local_list_help(ctx: LintContext):
    """
    ## What it does
    Flags documented `torch.hub.list(..., source=...)` and
    `torch.hub.help(..., source=...)` calls.

    ## Why is this bad?
    Only `torch.hub.load` takes `source`; `list` and `help` accept GitHub repos
    only (torch 2.14), so `torch.hub.list(".", source="local")` fails with
    `TypeError: list() got an unexpected keyword argument 'source'`.

    ## Example
    ```python
    torch.hub.list(".", source="local")
    ```

    ## Use instead
    ```python
    def resnet50():
        '''ResNet-50; list the others with:

        >>> torch.hub.list("acme/zoo", trust_repo=True)
        '''
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.list
    """
    for call in ctx.hub_calls:
        if call.function in ("list", "help") and call.passes_source:
            yield _at(call, {"function": call.function})
