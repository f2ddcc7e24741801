"""Entry points that take a flag choosing pretrained weights and never read it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.decorators import hands_back_unchanged
from hubcheck.static.model import EntryPoint, EntryPointKind

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda

# Parameters whose value picks the weights a hub user gets. Configuration that merely travels with
# weights (timm's `pretrained_cfg`, which timm's own create_model passes) is not a choice of weights.
_WEIGHTS_FLAGS = frozenset({
    "pretrained", "pretrained_backbone", "backbone_pretrained", "use_pretrained", "load_pretrained",
    "pretrained_weights", "weights", "weights_backbone", "weight_path", "weights_path",
})
# Library decorators known to hand the function back unchanged (registries): the flag is the body's alone.
_TRANSPARENT_LIBRARY_DECORATORS = frozenset({
    "timm.models.registry.register_model", "timm.models._registry.register_model", "timm.models.register_model",
})
# How a docstring says a parameter does nothing, on the parameter's own line.
_IGNORED = r"(ignored|unused|not used|has no effect|no effect|does nothing|kept for compatibility)"
# Calls through which a body hands its parameters on without naming them.
_FRAME_READERS = frozenset({"locals", "vars", "eval", "exec"})


@rule(
    code="HUB107",
    name="entrypoint-ignores-weights-flag",
    severity=Severity.ERROR,
    message="entry point {name!r} takes {param!r} but never reads it{detail}: whatever a caller passes for it, the "
            "model's weights stay the same, untrained unless something else loads them",
    fix="{remedy}",
)
def entrypoint_ignores_weights_flag(ctx: LintContext) -> Iterator[Violation]:
    """
    ## What it does
    Checks that every entry point defined by the repo that takes a weights flag (`pretrained`,
    `pretrained_backbone`, `weights`, `weights_backbone`, `weight_path` and their spellings)
    reads it. A flag counts as read when its body loads it (anywhere, nested functions included),
    hands it on through `locals()` or `vars()`, or when a decorator that may read it wraps the
    function: any decorator but a registry that returns the function unchanged (timm's
    `register_model`, or one of the repo's own whose every `return` gives back its argument).
    A flag the docstring says is ignored (`pretrained: ignored`, `unused`, `has no effect`) misleads no one
    who reads torch.hub.help, and is exempt; so is a stub (a body of only a docstring, `pass` or `...`, or
    one `raise NotImplementedError`), and leaked imports and code from outside the repo. An
    entry point that spells its flag otherwise (`pretrain`) and takes a `**kwargs` it never reads
    is reported at the `**kwargs`: `pretrained=True`, the usual spelling, vanishes there.

    ## Why is this bad?
    `torch.hub.load(repo, "convnext_small", pretrained=True)` then returns randomly initialised
    weights with no error and no warning: the model runs, and its outputs are noise. This is what
    happens when a family of builders is copied from one that loads weights (often through a
    decorator only the first one got) and the others never got theirs.

    ## Example
    ```python
    @hub.pretrained("https://example.com/convnext_tiny.pkl")
    def convnext_tiny(pretrained=False, **kwargs):
        return ConvNeXt(depths=[3, 3, 9, 3], **kwargs)

    def convnext_small(pretrained=False, **kwargs):
        return ConvNeXt(depths=[3, 3, 27, 3], **kwargs)
    ```

    ## Use instead
    ```python
    def convnext_small(pretrained=False, **kwargs):
        \"\"\"ConvNeXt-S, untrained: `pretrained` raises, as there are no weights yet.\"\"\"
        if pretrained:
            raise NotImplementedError("no pretrained weights for convnext_small yet")
        return ConvNeXt(depths=[3, 3, 27, 3], **kwargs)
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#publishing-models
    """
    if ctx.model is None:
        return
    reported: set[int] = set()
    for entry in ctx.model.entrypoints:
        function = _called_function(entry)
        if function is None or id(function) in reported or entry.definition is None:
            continue
        reported.add(id(function))
        names = [arg.arg for arg in _named_parameters(function)]
        if not any(name in _WEIGHTS_FLAGS or "pretrain" in name.lower() for name in names):
            continue  # no flag to ignore: the body is not walked (a zoo has a thousand entry points)
        if _is_stub(function):
            continue
        read, hands_on_frame = _reads(function)
        if hands_on_frame:
            continue
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _decorators_transparent(
                ctx, entry.definition.path, function):
            continue
        for arg in _named_parameters(function):
            if arg.arg in _WEIGHTS_FLAGS and arg.arg not in read and not _documented_as_ignored(entry.doc, arg.arg):
                yield Violation(entry.definition.path, arg.lineno, arg.col_offset + 1,
                                {"name": entry.name, "param": arg.arg, "detail": "",
                                 "remedy": f"load the weights when {arg.arg} is set, or raise (NotImplementedError, "
                                           "ValueError) when there are none"}, entry.name)
        swallowed = _swallowing_kwargs(function, read)
        if swallowed is not None:
            kwargs, spelling = swallowed
            yield Violation(entry.definition.path, kwargs.lineno, kwargs.col_offset + 1,
                            {"name": entry.name, "param": f"**{kwargs.arg}",
                             "detail": f" (so pretrained=True, the usual spelling, vanishes there: this one is "
                                       f"{spelling!r})",
                             "remedy": f"raise TypeError for keywords {_function_name(function)} does not take, or "
                                       f"accept pretrained as well as {spelling}"}, entry.name)


def _function_name(function: FunctionNode) -> str:
    return "the lambda" if isinstance(function, ast.Lambda) else function.name


def _swallowing_kwargs(function: FunctionNode, read: set[str]) -> tuple[ast.arg, str] | None:
    """The ``**kwargs`` that swallows ``pretrained=True`` unread, and the flag's own spelling, when the function
    spells its weights flag otherwise (YvanYin/Metric3D's ``pretrain``) and never reads its ``**kwargs``."""
    kwargs = function.args.kwarg
    if kwargs is None or kwargs.arg in read:
        return None
    names = [arg.arg for arg in _named_parameters(function)]
    if "pretrained" in names:
        return None
    spelling = next((name for name in names if "pretrain" in name.lower()), None)
    return (kwargs, spelling) if spelling is not None else None


def _documented_as_ignored(doc: str | None, parameter: str) -> bool:
    """Whether the docstring torch.hub.help shows says the flag does nothing (``pretrained: ignored``): a user
    who reads it is not misled."""
    return doc is not None and re.search(rf"\b{parameter}\b[^\n]*\b{_IGNORED}", doc, re.IGNORECASE) is not None


def _called_function(entry: EntryPoint) -> FunctionNode | None:
    """The repo function that calling ``entry`` runs: its def, lambda, or its class's ``__init__``."""
    definition = entry.definition
    if entry.leaked or definition is None or not definition.local:
        return None
    if entry.kind in (EntryPointKind.PARTIAL, EntryPointKind.OBJECT):
        return None  # a partial fixes its own arguments; an instance is called with inputs, not flags
    node = definition.node
    if isinstance(node, ast.ClassDef):
        return next((item for item in node.body
                     if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__init__"), None)
    return node


def _body(function: FunctionNode) -> list[ast.AST]:
    return [function.body] if isinstance(function, ast.Lambda) else list(function.body)


def _reads(function: FunctionNode) -> tuple[set[str], bool]:
    """The names the body reads, and whether it hands its parameters on through ``locals()``, ``vars()``... (one walk)."""
    read: set[str] = set()
    for statement in _body(function):
        for node in ast.walk(statement):
            if type(node) is ast.Name and type(node.ctx) is ast.Load:
                read.add(node.id)
    return read, not read.isdisjoint(_FRAME_READERS) and any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FRAME_READERS
        for statement in _body(function) for node in ast.walk(statement))


def _is_stub(function: FunctionNode) -> bool:
    """A body with nothing to ignore the flag in: only a docstring, ``pass`` or ``...``, or a single ``raise``
    (``raise NotImplementedError``), which fails loudly whatever the flag."""
    if isinstance(function, ast.Lambda):
        return False
    body = [statement for statement in function.body if not isinstance(statement, ast.Pass)
            and not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))]
    return not body or (len(body) == 1 and isinstance(body[0], ast.Raise))


def _named_parameters(function: FunctionNode) -> list[ast.arg]:
    args = function.args
    return list(args.posonlyargs) + list(args.args) + list(args.kwonlyargs)


def _decorators_transparent(ctx: LintContext, path: Path, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether every decorator hands ``function`` back unchanged, so no wrapper can read its flags."""
    names = ctx.names(path)
    return all(names.qualified(decorator) in _TRANSPARENT_LIBRARY_DECORATORS
               or hands_back_unchanged(decorator, lambda expr: _repo_function(ctx, path, expr))
               for decorator in function.decorator_list)


def _repo_function(ctx: LintContext, path: Path, expr: ast.expr) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The repo function a decorator's name in ``path`` refers to: defined in that file, or imported from the repo."""
    tree = ctx.names(path).tree
    if isinstance(expr, ast.Name) and tree is not None:
        for statement in reversed(tree.body):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == expr.id:
                return statement
    qualified = ctx.names(path).qualified(expr)
    if qualified is None or "." not in qualified:
        return None
    owner, _, name = qualified.rpartition(".")
    if not ctx.index.is_local(owner):
        return None
    found = ctx.index.lookup(owner, name).definition
    return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
