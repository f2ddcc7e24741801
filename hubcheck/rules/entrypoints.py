"""Rules about the entry points themselves: documented, deliberate, loadable."""

from __future__ import annotations

import ast
import re

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.exports import needs_arguments
from hubcheck.static.model import EntryPoint, EntryPointKind, HubconfModel
from hubcheck.static.syntax import live_statements

# torch.hub.load's own keywords: a parameter with one of these names never
# receives the caller's value.
HUB_LOAD_KEYWORDS = ("source", "trust_repo", "force_reload", "verbose", "skip_validation")


def _own_entrypoints(ctx: LintContext):
    """Entry points whose code lives in the repo (so the repo can fix them).

    Leaked imports and built instances are HUB103's; an alias of a torchvision function or an
    instance of a torch class is documented by its library. A partial is the
    repo's own even when its function is not: only the repo can set its ``__doc__``.
    """
    if ctx.model is None:
        return
    built = _built_instances(ctx.model)  # leaks HUB103 reports: their docs are not the point
    for entry in ctx.model.entrypoints:
        if entry.leaked or entry.name in built or (entry.kind is EntryPointKind.IMPORTED and entry.definition is None):
            continue
        if entry.definition is not None and not entry.definition.local and entry.kind is not EntryPointKind.PARTIAL:
            continue
        yield entry


def _arg_nodes(entry: EntryPoint) -> dict[str, ast.arg]:
    """The ``ast.arg`` of each parameter, to point findings at the parameter itself."""
    node = entry.definition.node if entry.definition else None
    if isinstance(node, ast.ClassDef):
        # Calling a class runs __init__; calling an instance runs __call__ (forward for nn.Module).
        methods = ("__call__", "forward") if entry.kind is EntryPointKind.OBJECT else ("__init__",)
        node = next((item for name in methods for item in node.body
                     if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name), None)
    if node is None or not hasattr(node, "args"):
        return {}
    args = node.args
    every = list(args.posonlyargs) + list(args.args) + list(args.kwonlyargs)
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return {a.arg: a for a in every}


def _placed(ctx: LintContext, found):
    """``(entry, parameter, arg node or None)`` -> ``(entry, parameter, path, line, column)``, once per place.

    A finding goes on the parameter where it is written, so aliases and
    partials of one function report it once; without an arg node, on the
    entry point's own line.
    """
    reported: set[tuple] = set()
    for entry, param, arg in found:
        key = (id(arg),) if arg is not None else (entry.name, param.name)
        if key in reported:
            continue
        reported.add(key)
        if arg is not None and entry.definition is not None:
            yield entry, param, entry.definition.path, arg.lineno, arg.col_offset + 1
        elif ctx.model is not None:
            yield entry, param, ctx.model.path, entry.line, entry.column


@rule(
    code="HUB101",
    name="entrypoint-missing-docstring",
    severity=Severity.WARNING,
    message="entry point {name!r} has no docstring{detail}",
    fix="add a docstring saying what {name} returns and what its parameters do",
)
def entrypoint_missing_docstring(ctx: LintContext):
    """
    ## What it does
    Checks that every entry point defined by the repo has a docstring of its own.

    ## Why is this bad?
    `torch.hub.help(repo, name)` returns the entry point's `__doc__`: None for
    an undocumented function, and functools.partial's generic text for a
    partial. Users calling help() to learn the parameters and the pretrained
    weights get nothing.

    ## Example
    ```python
    def resnet18(pretrained=True, **kwargs):
        return _resnet("resnet18", pretrained, **kwargs)
    ```

    ## Use instead
    ```python
    def resnet18(pretrained=True, **kwargs):
        \"\"\"ResNet-18 trained on ImageNet.

        Args:
            pretrained (bool): load the ImageNet weights.
        \"\"\"
        return _resnet("resnet18", pretrained, **kwargs)
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.help
    """
    reported: set[int] = set()
    for entry in _own_entrypoints(ctx):
        if entry.doc:
            continue
        node = entry.definition.node if entry.definition else None
        written = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        if entry.kind is EntryPointKind.PARTIAL:
            detail = " (torch.hub.help returns functools.partial's generic docstring; set its __doc__)"
        elif entry.kind is EntryPointKind.LAMBDA:
            detail = " (a lambda cannot have one; use def)"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node) is not None:
            # The def has one, yet help() sees none: a decorator put a wrapper of its own in its place.
            detail = (" that torch.hub.help can see: its decorator returns a wrapper without "
                      "functools.wraps, so help returns None")
        elif written:
            detail = " (torch.hub.help returns None)"
        else:
            continue  # the code behind it is unknown, and so is its docstring
        if written and entry.kind is not EntryPointKind.PARTIAL and entry.definition is not None:
            # The docstring goes on the def or class, however many names list it: report it there, once.
            if id(node) in reported:
                continue
            reported.add(id(node))
            path, line, column = entry.definition.path, entry.definition.node.lineno, entry.definition.node.col_offset + 1
        elif ctx.model is not None:
            path, line, column = ctx.model.path, entry.line, entry.column
        else:
            continue
        yield Violation(path, line, column, {"name": entry.name, "detail": detail}, entry.name)


_SPHINX_PARAM = re.compile(r":param\s+(?:[^:]*\s)?(\w+)\s*:")


def documented_names(doc: str) -> set[str]:
    """Words a docstring mentions, which covers Google, NumPy, Sphinx and prose styles."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", doc))
    return words | set(_SPHINX_PARAM.findall(doc))


@rule(
    code="HUB102",
    name="entrypoint-undocumented-parameter",
    severity=Severity.WARNING,
    message="parameter {param!r} of entry point {name!r} is never mentioned in its docstring",
    fix="describe {param} in the docstring (e.g. under `Args:`)",
)
def entrypoint_undocumented_parameter(ctx: LintContext):
    """
    ## What it does
    Checks that every named parameter of a documented entry point is mentioned
    in its docstring, in any style (Google `Args:`, NumPy, Sphinx `:param x:`
    or prose). `*args`, `**kwargs` and `self` are exempt.

    ## Why is this bad?
    The docstring is all torch.hub.help shows. A parameter it never mentions,
    such as `pretrained` or `num_classes`, is one users can only learn about by
    reading the repo's source.

    ## Example
    ```python
    def unet(pretrained=True, out_channels=2):
        \"\"\"U-Net for segmentation.\"\"\"
    ```

    ## Use instead
    ```python
    def unet(pretrained=True, out_channels=2):
        \"\"\"U-Net for segmentation.

        Args:
            pretrained: load weights trained on Carvana.
            out_channels: number of output masks.
        \"\"\"
    ```

    ## References
    - https://google.github.io/styleguide/pyguide.html#383-functions-and-methods
    """
    def undocumented():
        for entry in _own_entrypoints(ctx):
            if not entry.doc or not entry.parameters or entry.definition is None:
                continue
            mentioned = documented_names(entry.doc)
            # A partial has a docstring of its own: the finding goes where the partial is made.
            args = {} if entry.kind is EntryPointKind.PARTIAL else _arg_nodes(entry)
            for param in entry.parameters:
                if not (param.is_variadic or param.name in ("self", "cls") or param.name in mentioned):
                    yield entry, param, args.get(param.name)

    for entry, param, path, line, column in _placed(ctx, undocumented()):
        yield Violation(path, line, column, {"param": param.name, "name": entry.name}, entry.name)


@rule(
    code="HUB103",
    name="leaked-import-entrypoint",
    severity=Severity.WARNING,
    message="{name!r}, {source}, is listed by torch.hub.list as an entry point, "
            "but it is a helper, not a model users load",
    fix="{remedy}",
)
def leaked_import_entrypoint(ctx: LintContext):
    """
    ## What it does
    Checks for helpers imported into hubconf.py under public names, which
    torch.hub.list reports as entry points.

    Flags a public callable imported from outside the repo (torch,
    torchvision, the standard library, another package), and one from the
    repo's own modules that hubconf's code uses itself (a model class or
    helper it builds its entry points with), or that is a class, or a
    function that cannot be called without arguments (`validate(config,
    loader, model)`), while hubconf defines entry points of its own (a
    building block, a training helper). What hubconf
    imports from the repo only to list it (`from mypkg.models import
    resnet50_x, resnet101_x`, a hubconf that is only such imports) is its
    entry point list and is not flagged, nor is a re-export written
    `from m import x as x`, renamed (`import X as x` from the repo) or
    listed in `__all__`. A star import (`from mypkg.models import *`) of
    a repo module without `__all__` brings the names that module imports
    itself (`Optional`, `partial`): those are flagged too. So is a public
    name hubconf binds at its top level to an instance of a class that is
    not the repo's (`to_pil = ToPILImage()`, a metric object), or of one of
    the repo's classes whose call needs an argument (`model = Net()` left
    over from training: torch.hub.load would call its forward with none).

    ## Why is this bad?
    torch.hub.list returns every public callable in hubconf's namespace,
    ignoring `__all__`: helpers such as `load_state_dict_from_url`, `Path`
    or a `ResNet` class show up as models users can load, and calling them
    through torch.hub.load fails or returns something that is not a model.

    ## Example
    ```python
    from torch.hub import load_state_dict_from_url
    from mynet.models import ResNet

    def resnet50(pretrained=True):
        \"\"\"ResNet-50; `pretrained` loads the ImageNet weights.\"\"\"
        model = ResNet(depth=50)
        if pretrained:
            model.load_state_dict(load_state_dict_from_url(URL, map_location="cpu", check_hash=True))
        return model
    ```

    ## Use instead
    ```python
    # repo layout: hubconf.py, mynet/models.py
    from torch.hub import load_state_dict_from_url as _load_state_dict_from_url
    from mynet.models import ResNet as _ResNet

    def resnet50(pretrained=True):
        \"\"\"ResNet-50; `pretrained` loads the ImageNet weights.\"\"\"
        model = _ResNet(depth=50)
        if pretrained:
            model.load_state_dict(_load_state_dict_from_url(URL, map_location="cpu", check_hash=True))
        return model
    ```

    ## References
    - torch/hub.py `list`: `[f for f in dir(m) if callable(getattr(m, f)) and not f.startswith("_")]`
    """
    model = ctx.model
    if model is None:
        return
    # A star import is a module-level statement (Python refuses one in a function): no walk of every node.
    star_lines = {stmt.lineno for stmt in live_statements(model.tree.body, into_definitions=False)
                  if isinstance(stmt, ast.ImportFrom) and any(alias.name == "*" for alias in stmt.names)}
    for entry in model.entrypoints:
        if entry.leaked:
            module, _, original = (entry.origin or entry.name).rpartition(".")
            module = module or "?"
            template = _STAR_REMEDY if entry.line in star_lines else _IMPORT_REMEDY
            remedy = template.format(name=entry.name, module=module, original=original)
            yield Violation(model.path, entry.line, entry.column,
                            {"name": entry.name, "source": f"imported from {module}", "module": module,
                             "original": original, "remedy": remedy}, entry.name)
    built = _built_instances(model)
    for entry in model.entrypoints:
        if entry.name in built:
            source = f"an instance of {built[entry.name]} built when hubconf is imported"
            remedy = _INSTANCE_REMEDY.format(name=entry.name)
            yield Violation(model.path, entry.line, entry.column,
                            {"name": entry.name, "source": source, "module": "", "original": entry.name,
                             "remedy": remedy}, entry.name)


def _built_instances(model: HubconfModel) -> dict[str, str]:
    """Public module-level names of hubconf bound to an object built at import that is not a model
    builder, each with the class as written: an instance of a class that is not the repo's
    (`to_pil = ToPILImage()`, a transform or a metric), or of the repo's own class whose call needs
    arguments (`model = Net()`, whose forward needs an input: torch.hub.load calls it with none)."""
    found: dict[str, str] = {}
    candidates = {e.name for e in model.entrypoints if e.kind is EntryPointKind.OBJECT
                  and (e.definition is None or not e.definition.local or needs_arguments(e))}
    for stmt in model.tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            for target in stmt.targets:
                if isinstance(target, ast.Name) and target.id in candidates:
                    found[target.id] = ast.unparse(stmt.value.func)
    return found


_IMPORT_REMEDY = ("import it under a private name (`from {module} import {original} as _{original}`) and use "
                  "`_{original}` in hubconf; if it is meant to be an entry point, re-export it on purpose "
                  "(`from {module} import {original} as {name}`, or list it in `__all__`)")
_INSTANCE_REMEDY = ("make it private (`_{name}`) and use that name in hubconf; torch.hub.load(repo, '{name}') "
                    "would call the object with no arguments")
# A star import has no name to make private: the module it reads decides what comes along.
_STAR_REMEDY = ("give {module} an `__all__` that lists only what hubconf should show: a star import of a module "
                "without one brings every public name it binds, its own imports included")


@rule(
    code="HUB104",
    name="entrypoint-shadows-hub-keyword",
    severity=Severity.ERROR,
    message="entry point {name!r} has a parameter {param!r}, which torch.hub.load keeps for itself",
    fix="rename the parameter (yolov5 renamed `verbose` to `_verbose`)",
)
def entrypoint_shadows_hub_keyword(ctx: LintContext):
    """
    ## What it does
    Checks entry point parameters against the keywords torch.hub.load consumes:
    `source`, `trust_repo`, `force_reload`, `verbose` and `skip_validation`.

    ## Why is this bad?
    `torch.hub.load(repo, "model", verbose=False)` passes `verbose` to
    torch.hub, never to the entry point; the entry point silently runs with
    its default. Users cannot set the parameter through torch.hub at all.

    ## Example
    ```python
    def detector(pretrained=True, verbose=True):
        ...
    ```

    ## Use instead
    ```python
    def detector(pretrained=True, _verbose=True):
        \"\"\"A detector.

        Args:
            pretrained: load the COCO weights.
            _verbose: print a summary of the model.
        \"\"\"
        ...
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load
    """
    def shadowing():
        for entry in _own_entrypoints(ctx):
            args = _arg_nodes(entry)
            for param in entry.parameters or ():
                if param.name in HUB_LOAD_KEYWORDS and not param.is_variadic:
                    yield entry, param, args.get(param.name)

    for entry, param, path, line, column in _placed(ctx, shadowing()):
        yield Violation(path, line, column, {"name": entry.name, "param": param.name}, entry.name)


@rule(
    code="HUB105",
    name="dynamic-entrypoints",
    severity=Severity.INFO,
    message="{what}; the static entry point list is incomplete",
    fix="`hubcheck list --dynamic` and `hubcheck validate` import hubconf and see the full list",
)
def dynamic_entrypoints(ctx: LintContext):
    """
    ## What it does
    Reports constructs that build hubconf's namespace at run time
    (`globals().update(...)`, `setattr` on the module, `from x import *`,
    `exec`) and public names whose callability depends on run time, such as
    a function defined only under `if torch.cuda.is_available():`.

    ## Why is this bad?
    It is not a bug: timm and fairseq build hundreds of entry points this way.
    But every static check, hubcheck's included, sees only part of the list;
    the dynamic commands are the only way to check the rest.

    ## Example
    ```python
    globals().update({name: partial(_build, name) for name in CONFIGS})
    ```

    ## Use instead
    ```python
    def small(pretrained=True):
        \"\"\"The small configuration; `pretrained` loads its weights.\"\"\"
        return _build("small", pretrained)
    ```

    ## References
    - https://github.com/huggingface/pytorch-image-models/blob/main/hubconf.py
    """
    model = ctx.model
    if model is None:
        return
    for construct in model.dynamic:
        yield Violation(model.path, construct.line, construct.column,
                        {"what": f"hubconf.py changes its namespace at run time ({construct.description})"})
    for uncertain in model.uncertain:
        yield Violation(model.path, uncertain.line, uncertain.column, {"what": uncertain.reason}, uncertain.name)


@rule(
    code="HUB106",
    name="no-entrypoints",
    severity=Severity.ERROR,
    message="hubconf.py defines no entry point: torch.hub.list returns an empty list",
    fix="define a public function that builds and returns the model",
)
def no_entrypoints(ctx: LintContext):
    """
    ## What it does
    Checks that hubconf.py has at least one public callable, the only thing
    torch.hub counts as an entry point.

    ## Why is this bad?
    A hubconf whose functions all start with `_`, or that only imports
    modules, gives users nothing to load: torch.hub.list returns `[]` and
    every torch.hub.load fails with "Cannot find callable".

    ## Example
    ```python
    dependencies = ["torch"]

    def _resnet(pretrained=True):
        ...
    ```

    ## Use instead
    ```python
    dependencies = ["torch"]

    def resnet(pretrained=True):
        \"\"\"ResNet; `pretrained` loads the ImageNet weights.\"\"\"
        ...
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#how-to-implement-an-entrypoint
    """
    model = ctx.model
    if model is not None and model.complete and not model.entrypoints:
        yield Violation(model.path, 1, 1)
