"""Rules about how reached code loads weights and picks devices (HUB201-HUB205).

Every rule here looks only at code torch.hub users actually run (``ctx.calls()``)
and recognises torch's functions under whatever name a file imports them by,
through the file's :class:`~hubcheck.static.names.FileNames`.
"""

from __future__ import annotations

import ast
import os
import re
from urllib.parse import urlparse

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.names import (
    DOWNLOAD_URL_TO_FILE,
    LOAD_STATE_DICT_FROM_URL,
    MAYBE,
    TORCH_LOAD,
    FileNames,
    argument,
    is_constant,
)
from hubcheck.static.reach import CodeUnit
from hubcheck.static.syntax import (
    dotted_name,
    enclosing_functions,
    is_parameter_default,
    short_source,
)


def _at(unit: CodeUnit, node: ast.stmt | ast.expr | ast.keyword | ast.arg, args: dict) -> Violation:
    return Violation(unit.path, node.lineno, node.col_offset + 1, args, unit.entrypoint)


# -- HUB201 / HUB202: torch.load and friends -----------------------------------------------

# (position, keyword) of map_location in each loader's signature.
_MAP_LOCATION = {
    TORCH_LOAD: (1, "map_location"),
    LOAD_STATE_DICT_FROM_URL: (2, "map_location"),
}


# Files a process makes for itself: what torch.load reads from them, this process just torch.save'd.
_OWN_BUFFERS = frozenset({"io.BytesIO", "tempfile.TemporaryFile", "tempfile.SpooledTemporaryFile"})


def _reads_own_bytes(call: ast.Call, names: FileNames, ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether ``torch.load`` reads an in-memory buffer or anonymous temporary file, not a checkpoint.

    omnivore's ``broadcast_object`` round-trips an object through ``io.BytesIO``
    between processes of one run: there is no saved checkpoint, and no other torch.
    """
    if names.qualified(call.func) != TORCH_LOAD:
        return False
    source = argument(call, 0, "f")
    if isinstance(source, ast.Call):
        return names.qualified(source.func) in _OWN_BUFFERS
    if not isinstance(source, ast.Name):
        return False
    found = names.bindings(source.id, enclosing_functions(ancestors))
    if found is not None and found[0] and all(
            isinstance(value, ast.Call) and names.qualified(value.func) in _OWN_BUFFERS for value, _ in found[0]):
        return True
    return any(
        isinstance(a, (ast.With, ast.AsyncWith)) and any(
            isinstance(item.optional_vars, ast.Name) and item.optional_vars.id == source.id
            and isinstance(item.context_expr, ast.Call) and names.qualified(item.context_expr.func) in _OWN_BUFFERS
            for item in a.items)
        for a in ancestors)


def _defaults_to_none(function: ast.AST, name: str) -> bool:
    """Whether ``function`` has a parameter ``name`` whose default is ``None`` and never binds it again.

    bshall/hifigan's ``_hifigan(..., map_location=None)`` hands the parameter
    straight to the load; yolov9's ``device = select_device(device)`` picks
    a device first.
    """
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return False
    if not any(arg.arg == name and is_constant(default, None) for arg, default in _defaults(function.args)):
        return False
    return not any(isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
                   for node in ast.walk(function))


def _old_torch_fallback(ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether a call sits in ``except TypeError:`` after a ``try`` that passes ``weights_only``.

    timm retries ``torch.load`` without the keyword for torch versions that
    reject it: the choice was made in the ``try``, this is the fallback.
    """
    for position, ancestor in enumerate(ancestors[:-1]):
        handler = ancestors[position + 1]
        if isinstance(ancestor, ast.Try) and isinstance(handler, ast.ExceptHandler) \
                and handler.type is not None and dotted_name(handler.type) == "TypeError":
            tried = (node for stmt in ancestor.body for node in ast.walk(stmt))
            if any(isinstance(node, ast.Call) and any(k.arg == "weights_only" for k in node.keywords)
                   for node in tried):
                return True
    return False


@rule(
    code="HUB201",
    name="torch-load-without-map-location",
    severity=Severity.WARNING,
    message="`{call}(...)` {problem}: weights saved on a GPU fail to load on CPU-only machines",
    fix="pass `map_location=\"cpu\"` (or the device the model goes to) to `{call}`",
)
def torch_load_without_map_location(ctx: LintContext):
    """
    ## What it does
    Checks that reached code passes `map_location` when it loads weights.

    Covers `torch.load`, `torch.hub.load_state_dict_from_url` and
    `torch.utils.model_zoo.load_url`, under any import alias, in code that
    torch.hub users run. `map_location` counts when given by keyword or as
    `torch.load`'s 2nd / `load_state_dict_from_url`'s 3rd positional
    argument. An explicit `map_location=None` is the default and counts as
    missing, and so does `map_location=name` where `name` is a parameter of
    the enclosing function that defaults to `None` and is never bound again
    there (bshall/hifigan's `_hifigan(..., map_location=None)`: called with
    its defaults, the load has none), unless the function is a helper that
    reached code calls only with a value for it. A `*args` / `**kwargs`
    splat may pass it and is not flagged, nor is a `torch.load` of an
    `io.BytesIO` or an anonymous temporary file (bytes the same process just
    saved, not a checkpoint).

    ## Why is this bad?
    Without `map_location`, tensors come back on the device they were saved
    from. A checkpoint saved from a GPU then fails on every CPU-only machine
    with "Attempting to deserialize object on a CUDA device but
    torch.cuda.is_available() is False". About a quarter of public hub repos
    call `load_state_dict_from_url` this way, and nobody with a GPU notices.

    ## Example
    ```python
    def resnet18(pretrained=True):
        model = ResNet18()
        if pretrained:
            model.load_state_dict(load_state_dict_from_url(URLS["resnet18"], check_hash=True))
        return model
    ```

    ## Use instead
    ```python
    def resnet18(pretrained=True):
        \"\"\"ResNet-18; `pretrained` loads the ImageNet weights.\"\"\"
        model = ResNet18()
        if pretrained:
            model.load_state_dict(load_state_dict_from_url(URLS["resnet18"], map_location="cpu", check_hash=True))
        return model
    ```

    ## References
    - https://pytorch.org/docs/stable/generated/torch.load.html
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load_state_dict_from_url
    """
    for unit, call, callee in ctx.calls_to(*_MAP_LOCATION):
        names = ctx.names(unit.path)
        target = _MAP_LOCATION[callee]
        if _reads_own_bytes(call, names, ctx.ancestors(unit, call)):
            continue
        passed = argument(call, *target)
        if passed is None or is_constant(passed, None):
            problem = "has no map_location" if passed is None else "passes map_location=None"
            yield _at(unit, call, {"call": ast.unparse(call.func), "problem": problem})
        elif isinstance(passed, ast.Name) and any(k.value is passed for k in call.keywords):
            # By keyword only: `--fix` adds the keyword, which a positional name would then pass twice.
            chain = enclosing_functions(ctx.ancestors(unit, call))
            if chain and _defaults_to_none(chain[0], passed.id) and not _every_caller_sets(ctx, chain[0], passed.id):
                yield _at(unit, call, {"call": ast.unparse(call.func),
                                       "problem": f"passes map_location={passed.id}, whose default is None"})


def _every_caller_sets(ctx: LintContext, function: ast.AST, name: str) -> bool:
    """Whether reached code calls the helper ``function``, and every call gives parameter ``name`` a value.

    A value counts unless it is ``None`` or the caller's own parameter that
    defaults to ``None`` (hifigan's entry points hand their ``map_location=None``
    on to ``_hifigan``). An entry point is called by torch.hub with its
    defaults, whoever else calls it.
    """
    if ctx.model is None or any(entry.definition is not None and entry.definition.node is function
                                for entry in ctx.model.entrypoints):
        return False
    parameter = _path_parameter(function, name)
    if parameter is None:
        return False
    function_name = getattr(function, "name", None)
    callers = [(unit, call) for unit, call in ctx.calls()
               if (dotted_name(call.func) or "").rpartition(".")[2] == function_name
               and (found := ctx.callee_definition(unit, call.func)) is not None and found[1] is function]
    for unit, call in callers:
        passed = argument(call, *parameter)
        if passed is None or is_constant(passed, None):
            return False
        if isinstance(passed, ast.Name):
            chain = enclosing_functions(ctx.ancestors(unit, call))
            if chain and _defaults_to_none(chain[0], passed.id):
                return False
    return bool(callers)


@rule(
    code="HUB202",
    name="torch-load-without-weights-only",
    severity=Severity.WARNING,
    message="`{call}(...)` leaves weights_only to torch's default, which flipped in torch 2.6 from False "
            "(unpickles and runs arbitrary code) to True (rejects non-tensor objects)",
    fix="pass `weights_only=True` to `{call}` (or `weights_only=False` only for a checkpoint you made "
        "yourself that holds more than tensors)",
)
def torch_load_without_weights_only(ctx: LintContext):
    """
    ## What it does
    Checks that reached code says `weights_only=` whenever it calls `torch.load`.

    Covers `torch.load` under any import alias (`torch.serialization.load`
    too). A `**kwargs` splat may pass it and is not flagged; an explicit
    `weights_only=False` is a decision and is not flagged either, nor is a
    `torch.load` of an `io.BytesIO` or anonymous temporary file the same
    process just wrote, nor the retry without it in an `except TypeError:`
    after a `try` that passes it (for torch versions that reject the keyword).

    ## Why is this bad?
    Until torch 2.5, `torch.load` unpickled anything, running whatever code
    the file names; from 2.6 the default is `weights_only=True`, which
    refuses checkpoints holding arbitrary Python objects (an argparse
    Namespace, a whole pickled model). The same hub entry point then works
    on one torch version and fails, or silently runs pickled code, on the
    other. Saying which one is meant makes it behave the same everywhere.

    ## Example
    ```python
    state = torch.load(path, map_location="cpu")
    ```

    ## Use instead
    ```python
    state = torch.load(path, map_location="cpu", weights_only=True)
    ```

    ## References
    - https://pytorch.org/docs/stable/generated/torch.load.html
    - https://dev-discuss.pytorch.org/t/bc-breaking-change-torch-load-is-being-flipped-to-use-weights-only-true-by-default-in-the-nightlies-after-137602/2573
    """
    for unit, call, _ in ctx.calls_to(TORCH_LOAD):
        names = ctx.names(unit.path)
        if argument(call, None, "weights_only") is not None:
            continue
        ancestors = ctx.ancestors(unit, call)
        if not _reads_own_bytes(call, names, ancestors) and not _old_torch_fallback(ancestors):
            yield _at(unit, call, {"call": ast.unparse(call.func)})


# -- HUB203: paths relative to the working directory -----------------------------------------

# Functions that take a file path: (position, keyword) of the path parameter.
_PATH_PARAMETERS = {
    TORCH_LOAD: (0, "f"),
    "torch.jit.load": (0, "f"),
    "torch.save": (1, "f"),
    "open": (0, "file"),
    "pathlib.Path": (0, None),
    "numpy.load": (0, "file"),
    "numpy.loadtxt": (0, "fname"),
    "numpy.genfromtxt": (0, "fname"),
    "numpy.fromfile": (0, "file"),
    "numpy.save": (0, "file"),
    "os.path.exists": (0, "path"),
    "os.path.isfile": (0, "path"),
    "os.path.isdir": (0, "s"),
    "os.path.getsize": (0, "filename"),
    "os.path.abspath": (0, "path"),
    "os.path.realpath": (0, "filename"),
    "os.listdir": (0, "path"),
    "os.makedirs": (0, "name"),
    "os.mkdir": (0, "path"),
    "glob.glob": (0, "pathname"),
    "PIL.Image.open": (0, "fp"),
    "cv2.imread": (0, "filename"),
    "safetensors.torch.load_file": (0, "filename"),
    "safetensors.numpy.load_file": (0, "filename"),
    "safetensors.safe_open": (0, "filename"),
    LOAD_STATE_DICT_FROM_URL: (1, "model_dir"),
    DOWNLOAD_URL_TO_FILE: (1, "dst"),
    # Dataset classes read (and with download=True, create and fill) the directory `root`.
    **{f"torchvision.datasets.{name}": (0, "root") for name in (
        "MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "USPS", "SEMEION", "Omniglot", "CIFAR10", "CIFAR100",
        "SVHN", "STL10", "ImageFolder", "DatasetFolder", "ImageNet", "CelebA", "VOCSegmentation", "VOCDetection",
        "CocoDetection", "CocoCaptions", "Caltech101", "Caltech256", "Food101", "Flowers102", "OxfordIIITPet",
        "StanfordCars", "Places365", "LSUN", "Cityscapes", "Kinetics", "UCF101", "HMDB51")},
    **{f"torchaudio.datasets.{name}": (0, "root") for name in (
        "LIBRISPEECH", "LIBRITTS", "LJSPEECH", "SPEECHCOMMANDS", "YESNO", "VCTK_092", "GTZAN", "COMMONVOICE")},
}

# ``Path("model.pth").stem`` manipulates a name; it never touches the file system.
_PURE_PATH_ATTRIBUTES = frozenset({"name", "stem", "suffix", "suffixes", "parts", "with_suffix", "with_name", "with_stem"})
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def _is_cwd_relative(path: str) -> bool:
    """Whether a path string resolves against the working directory (not absolute, ``~``, a URL or empty)."""
    return bool(path) and not (
        path.startswith(("/", "\\", "~")) or "://" in path or _WINDOWS_ABSOLUTE.match(path)
    )


def _path_text(names: FileNames, passed: ast.expr, chain: tuple[ast.AST, ...]) -> tuple[str, str] | None:
    """The path as a string when it is known, or as written when only its leading part is, each with the
    expression a fix anchors (the quoted string, or the template's own source).

    ``".torch/ofa_specialized/%s/" % net_id`` and ``f"weights/{name}.pth"``
    resolve against the working directory whatever the rest turns out to be,
    so their text (placeholders and all) is enough to judge them; a template
    that starts with a placeholder (``f"{root}/w.pth"``) is not judged.
    """
    known = names.literal(passed, chain)
    if known is not None:
        return known, f'"{known}"'
    if isinstance(passed, ast.BinOp) and isinstance(passed.op, ast.Mod) and isinstance(passed.left, ast.Constant) \
            and isinstance(passed.left.value, str):
        text = passed.left.value
        leading = text.partition("%")[0]
        written = f"({ast.unparse(passed)})"  # `/` and `%` bind alike: `base / "a/%s" % x` would format the join
    elif isinstance(passed, ast.JoinedStr) and passed.values and isinstance(passed.values[0], ast.Constant):
        text = "".join(str(part.value) if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"
                       for part in passed.values if isinstance(part, (ast.Constant, ast.FormattedValue)))
        leading = str(passed.values[0].value)
        written = ast.unparse(passed)
    else:
        return None
    return (text, written) if _is_cwd_relative(leading) else None


def _anchored(function: str, written: str) -> str:
    """Where the path (``written`` as an expression) should live: next to the code, or in torch.hub's cache
    for downloads and datasets."""
    if function in (LOAD_STATE_DICT_FROM_URL, DOWNLOAD_URL_TO_FILE) \
            or function.startswith(("torchvision.datasets.", "torchaudio.datasets.")):
        return f"os.path.join(torch.hub.get_dir(), {written})"
    return f"Path(__file__).resolve().parent / {written}"


def _path_argument_is_not_a_use(call: ast.Call, ancestors: tuple[ast.AST, ...]) -> bool:
    """``base / Path("w.pth")`` and ``Path("w.pth").stem`` build or split names; they open nothing."""
    parent = ancestors[-1] if ancestors else None
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div) and parent.right is call:
        return True
    return isinstance(parent, ast.Attribute) and parent.attr in _PURE_PATH_ATTRIBUTES


@rule(
    code="HUB203",
    name="cwd-relative-path",
    severity=Severity.ERROR,
    message="`{call}` gets the relative path {path!r}, which resolves against the user's working "
            "directory, not the repo",
    fix="anchor it to a fixed location: `{anchored}`",
)
def cwd_relative_path(ctx: LintContext):
    """
    ## What it does
    Checks for file paths that are relative to the working directory in reached code.

    Looks at the path given to functions that open, test or create files:
    `torch.load`, `open` (reading or writing), `pathlib.Path`, `np.load`,
    `os.path.exists` / `isfile`, `PIL.Image.open`, safetensors' `load_file`,
    the `model_dir` of `load_state_dict_from_url`, the `dst` of
    `download_url_to_file`, the `root` of torchvision's and torchaudio's
    dataset classes (`datasets.MNIST(root="data", download=True)`), and
    similar. A path is flagged when it is a string literal, or an f-string,
    `+`, `/` or `os.path.join` chain of literals, or a name bound once to
    one (at module level, or earlier in the same function), and is not
    absolute, `~`-prefixed, a URL or empty. A template whose leading text is
    written out and relative (`f"weights/{name}.pth"`,
    `".torch/%s/" % net_id`) is flagged whatever fills it; one that starts
    with a placeholder (`f"{root}/w.pth"`) is not judged.
    Paths built from `__file__`, `torch.hub.get_dir()`, environment
    variables or parameters are not flagged, nor is a `Path("x")` that only
    joins onto another path (`base / Path("x")`), splits a name
    (`Path("x").stem`) or is a parameter's default (`path=Path("labels.cache")`,
    a placeholder the callers replace). A name bound more than once, or a class attribute
    (`self.WEIGHTS`), is not followed. A relative literal passed to one of
    the repo's own functions that hands that parameter on as a path
    (`_fetch(url, model_dir=".torch/models")`, where `_fetch` calls
    `load_state_dict_from_url(url, model_dir=model_dir)`) is flagged at
    that call.

    ## Why is this bad?
    torch.hub does not change the working directory: it imports hubconf from
    its cache folder and calls the entry point in the user's process. A
    relative path resolves against wherever the user started Python, so
    `torch.load("model_wt.pth")`, straight from the PyTorch Hub tutorial,
    works in the repo's own checkout and raises FileNotFoundError for
    everyone else (or, worse, loads an unrelated file of the same name).

    ## Example
    ```python
    def custom_model(pretrained=True):
        model = MLP()
        if pretrained:
            model.load_state_dict(torch.load("model_wt.pth", map_location="cpu", weights_only=True))
        return model
    ```

    ## Use instead
    ```python
    import os

    _HERE = os.path.dirname(os.path.abspath(__file__))

    def custom_model(pretrained=True):
        \"\"\"The MLP; `pretrained` loads the weights shipped with the repo.\"\"\"
        model = MLP()
        if pretrained:
            weights = os.path.join(_HERE, "model_wt.pth")
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return model
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load
    - torch/hub.py `_load_local`: hubconf is imported from the cache folder; `os.chdir` is never called
    """
    covered: set[int] = set()
    wrappers: dict[tuple, dict[str, tuple[int | None, str, str]]] = {}
    for unit, call, name in ctx.calls_to(*_PATH_PARAMETERS):
        if id(call) in covered:
            continue
        names = ctx.names(unit.path)
        parameter = _PATH_PARAMETERS[name]
        passed = argument(call, *parameter)
        if passed is None or passed is MAYBE:
            continue
        ancestors = ctx.ancestors(unit, call)
        chain = enclosing_functions(ancestors)
        if name == "pathlib.Path":
            if _path_argument_is_not_a_use(call, ancestors) or is_parameter_default(call, ancestors):
                # A `Path("...")` default is a placeholder the callers replace; building it opens nothing.
                continue
            # `Path("weights", "resnet.pth")`: name the whole path when every part is known.
            passed = call if names.literal(call, chain) is not None else passed
        found = _path_text(names, passed, chain)
        if found is not None and _is_cwd_relative(found[0]):
            # `torch.load(Path("w.pth"))` is one problem, reported at the outer call.
            covered.update(id(inner) for inner in ast.walk(passed))
            yield _at(unit, call, {"call": ast.unparse(call.func), "path": found[0],
                                   "anchored": _anchored(name, found[1])})
        elif isinstance(passed, ast.Name) and chain:
            wrapper = _path_parameter(chain[0], passed.id)
            if wrapper is not None:
                place = (unit.path, getattr(chain[0], "lineno", 0), getattr(chain[0], "col_offset", 0))
                wrappers.setdefault(place, {})[passed.id] = (*wrapper, name)
    yield from _relative_paths_through_wrappers(ctx, wrappers)


def _path_parameter(function: ast.AST, name: str) -> tuple[int | None, str] | None:
    """``(position, keyword)`` of the parameter ``name`` of a module-level-style function, else None.

    A method's ``self`` shifts positions, so only a plain function's parameters are used.
    """
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    if positional and positional[0].arg in ("self", "cls"):
        return None
    for position, arg in enumerate(positional):
        if arg.arg == name:
            return position, name
    if any(arg.arg == name for arg in args.kwonlyargs):
        return None, name
    return None


def _relative_paths_through_wrappers(ctx: LintContext, wrappers: dict[tuple, dict[str, tuple[int | None, str, str]]]):
    """A relative path literal passed to the repo's own helper that hands it on as a path
    (`_fetch(url, model_dir=".torch/models")`, where `_fetch` calls load_state_dict_from_url)."""
    if not wrappers:
        return
    for unit, call in ctx.calls():
        definition = ctx.callee_definition(unit, call.func)
        if definition is None:
            continue
        path_of, node = definition
        parameters = wrappers.get((path_of, getattr(node, "lineno", 0), getattr(node, "col_offset", 0)), {})
        for position, keyword, inner in parameters.values():
            passed = argument(call, position, keyword)
            if passed is None or passed is MAYBE:
                continue
            found = _path_text(ctx.names(unit.path), passed, enclosing_functions(ctx.ancestors(unit, call)))
            if found is not None and _is_cwd_relative(found[0]):
                yield _at(unit, call, {"call": ast.unparse(call.func), "path": found[0],
                                       "anchored": _anchored(inner, found[1])})


# -- HUB204: CUDA without a check ------------------------------------------------------------

# Calls whose result says whether CUDA can be used.
_CUDA_PROBES = frozenset({"is_available", "device_count"})
# Parts of names that say "this is about the device": `use_gpu`, `useGPU`, `device`, `cuda`, `args.cpu`.
_DEVICE_WORDS = ("gpu", "cuda", "device", "cpu", "maplocation")
# Exceptions raised by `.cuda()` where CUDA is missing (RuntimeError, or AssertionError on CPU-only builds).
_CUDA_FAILURES = frozenset({"Exception", "BaseException", "RuntimeError", "AssertionError"})


def _is_device_name(name: str) -> bool:
    normalized = name.lower().replace("_", "")
    return normalized == "dev" or any(word in normalized for word in _DEVICE_WORDS)


def _is_cuda_probe(node: ast.Attribute) -> bool:
    """``torch.cuda.is_available`` / ``device_count``, under any spelling that ends in ``cuda``."""
    return node.attr in _CUDA_PROBES and (dotted_name(node.value) or "").endswith("cuda")


def _is_cuda_literal(node: ast.expr | None) -> bool:
    """``"cuda"``, ``"cuda:0"`` or ``f"cuda:{rank}"``."""
    if isinstance(node, ast.JoinedStr) and node.values:
        node = node.values[0]
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and (
        node.value == "cuda" or node.value.startswith("cuda:")
    )


def _cuda_use(call: ast.Call, names: FileNames) -> bool:
    """Whether a call puts something on CUDA by a hard-coded choice."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "cuda" and names.qualified(func.value) != "torch":
        device = argument(call, 0, "device")
        return device is None or _is_cuda_literal(device) or (
            isinstance(device, ast.Constant) and isinstance(device.value, int) and not isinstance(device.value, bool)
        )
    if isinstance(func, ast.Attribute) and func.attr == "to":
        return _is_cuda_literal(argument(call, 0, "device"))
    # Only a call whose last word is the function's can name it (no other spelling of these is known):
    # resolving every call of a timm-sized repo cost more than the rest of this rule.
    if not isinstance(func, ast.Attribute) or func.attr in ("device", "set_default_device"):
        callee = names.qualified(func)
        if callee == "torch.device":
            return _is_cuda_literal(argument(call, 0, "type"))
        if callee == "torch.set_default_device":
            return _is_cuda_literal(argument(call, 0, "device"))
    return any(kw.arg in ("device", "map_location") and _is_cuda_literal(kw.value) for kw in call.keywords)


def _on_purpose(call: ast.Call, unit: CodeUnit, ancestors: tuple[ast.AST, ...], names: FileNames) -> bool:
    """CUDA that only names a device, or that the user asks for by calling a method named ``cuda``.

    ``torch.device("cuda")`` builds a value and touches no GPU: as a parameter's
    default or a module-level constant it is a choice the caller can override.
    """
    if names.qualified(call.func) == "torch.device" and (unit.import_time or is_parameter_default(call, ancestors)):
        return True
    functions = enclosing_functions(ancestors)
    return bool(functions) and getattr(functions[0], "name", None) == "cuda"


class _CudaGuards:
    """Whether a CUDA call is protected by a check, per the rules HUB204 documents."""

    def __init__(self, names: FileNames) -> None:
        self.names = names

    def is_guard(self, test: ast.expr, chain: tuple[ast.AST, ...], depth: int = 0) -> bool:
        """Whether a condition refers to CUDA being available or to a device setting."""
        # `model.cuda()` or `torch.device(...)` in a condition (or in a value assigned to a
        # name the condition reads) does something with a device; it does not check one.
        methods = {id(node.func) for node in ast.walk(test) if isinstance(node, ast.Call)}
        for node in ast.walk(test):
            if isinstance(node, ast.Attribute):
                if _is_cuda_probe(node):
                    return True
                if _is_device_name(node.attr) and id(node) not in methods and dotted_name(node) != "torch.cuda":
                    return True
            elif isinstance(node, ast.Name):
                if node.id in _CUDA_PROBES or _is_device_name(node.id):
                    return True
                if depth < 3 and self._assigned_from_guard(node.id, chain, depth):
                    return True
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier() \
                    and _is_device_name(node.value):
                # `if "cuda" in kwargs and not kwargs["cuda"]`: a device setting read by its key.
                return True
        return False

    def _assigned_from_guard(self, name: str, chain: tuple[ast.AST, ...], depth: int) -> bool:
        found = self.names.bindings(name, chain)
        if found is None:
            return False
        stores, owner = found
        return any(value is not None and self.is_guard(value, owner, depth + 1) for value, _ in stores)

    def guarded(self, node: ast.AST, ancestors: tuple[ast.AST, ...]) -> bool:
        chain = enclosing_functions(ancestors)
        child = node
        for ancestor in reversed(ancestors):
            if self._guards_child(ancestor, child, chain) or self._earlier_check(ancestor, child, chain):
                return True
            child = ancestor
        return False

    def _guards_child(self, ancestor: ast.AST, child: ast.AST, chain: tuple[ast.AST, ...]) -> bool:
        if isinstance(ancestor, (ast.If, ast.While, ast.IfExp)):
            return child is not ancestor.test and self.is_guard(ancestor.test, chain)
        if isinstance(ancestor, ast.BoolOp):
            earlier = ancestor.values[: next((i for i, v in enumerate(ancestor.values) if v is child), 0)]
            return any(self.is_guard(value, chain) for value in earlier)
        if isinstance(ancestor, ast.Try) and any(child is stmt for stmt in ancestor.body):
            return any(_catches_cuda_failure(handler) for handler in ancestor.handlers)
        return False

    def _earlier_check(self, ancestor: ast.AST, child: ast.AST, chain: tuple[ast.AST, ...]) -> bool:
        """An earlier ``assert <check>`` or ``if not <check>: raise/return`` in the same block."""
        for field_name in ("body", "orelse", "finalbody"):
            block = getattr(ancestor, field_name, None)
            if not isinstance(block, list) or not any(stmt is child for stmt in block):
                continue
            for stmt in block:
                if stmt is child:
                    break
                if isinstance(stmt, ast.Assert) and self.is_guard(stmt.test, chain):
                    return True
                if isinstance(stmt, ast.If) and _leaves(stmt.body) and self.is_guard(stmt.test, chain):
                    return True
        return False


def _leaves(body: list[ast.stmt]) -> bool:
    return any(
        isinstance(stmt, (ast.Raise, ast.Return, ast.Continue, ast.Break))
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and dotted_name(stmt.value.func) in ("sys.exit", "exit", "quit"))
        for stmt in body
    )


def _catches_cuda_failure(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((dotted_name(c) or "").rpartition(".")[2] in _CUDA_FAILURES for c in caught)


@rule(
    code="HUB204",
    name="unguarded-cuda",
    severity=Severity.ERROR,
    message="`{code}` hard-codes CUDA with no `torch.cuda.is_available()` check or device parameter on "
            "its path: it fails on CPU-only machines",
    fix="pick the device first (`device = \"cuda\" if torch.cuda.is_available() else \"cpu\"`) and use "
        "`.to(device)`, or take a `device` parameter",
)
def unguarded_cuda(ctx: LintContext):
    """
    ## What it does
    Checks reached code for CUDA that is hard-coded with no check that a GPU is there.

    Flags `.cuda()` (or `.cuda(0)`), `.to("cuda")` / `.to("cuda:0")` /
    `.to(f"cuda:{rank}")`, a `device="cuda"` or `map_location="cuda"`
    keyword, `torch.device("cuda")` and `torch.set_default_device("cuda")`.
    They are fine when guarded: inside an `if`, `elif`, `while`, ternary or
    `and` whose condition calls `*.cuda.is_available()` / `device_count()`,
    reads a name assigned from such a call (`ok = torch.cuda.is_available()`)
    or a device-like name (`device`, `use_gpu`, `useGPU`, `args.cuda`,
    `map_location`); after an earlier `assert torch.cuda.is_available()` or
    `if not torch.cuda.is_available(): raise ...` in the same block; or in a
    `try` whose `except` catches RuntimeError or AssertionError.
    `.to(device)` and `.cuda(device)` with a variable are a choice made
    elsewhere and are not flagged, nor is `torch.device("cuda")` as a
    parameter's default or a module-level constant (building a device
    touches no GPU, and the caller can pass another), nor `.cuda()` inside
    a method named `cuda` (users call it to ask for the GPU). A test that
    reads a device setting by its key (`if not kwargs["cuda"]: return`)
    counts as a check. Calls are judged where they are written: a helper
    that calls `.cuda()` is flagged even when every caller checks first.
    An entry point's own parameter that defaults to CUDA (`device="cuda"`,
    `torch.device("cuda")`) is flagged at that default when the entry point
    reads it and never asks `*.cuda.is_available()` / `device_count()` in
    its body: torch.hub calls it with its defaults unless the user passes
    others (knn-vc's `knn_vc(device="cuda")`, handed on to `.to(device)`).

    ## Why is this bad?
    torch.hub users load models on laptops, CPU CI runners and Macs.
    `model.cuda()` there raises "Torch not compiled with CUDA enabled" or
    "Found no NVIDIA driver", so the entry point is unusable without a GPU,
    even though the model itself would run fine on the CPU.

    ## Example
    ```python
    def deeplab(pretrained=True):
        model = DeepLab()
        model.load_state_dict(torch.load(WEIGHTS, map_location="cuda", weights_only=True))
        return model.cuda().eval()
    ```

    ## Use instead
    ```python
    def deeplab(pretrained=True, device=None):
        \"\"\"DeepLab; `pretrained` loads the weights, `device` is where they go (a GPU when there is one).\"\"\"
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = DeepLab()
        if pretrained:
            model.load_state_dict(torch.load(WEIGHTS, map_location=device, weights_only=True))
        return model.to(device).eval()
    ```

    ## References
    - https://pytorch.org/docs/stable/notes/cuda.html#device-agnostic-code
    """
    guards: dict[int, _CudaGuards] = {}
    for unit, call in ctx.calls():
        names = ctx.names(unit.path)
        if not _cuda_use(call, names):
            continue
        ancestors = ctx.ancestors(unit, call)
        if _on_purpose(call, unit, ancestors, names):
            continue
        checker = guards.setdefault(id(names), _CudaGuards(names))
        if not checker.guarded(call, ancestors):
            yield _at(unit, call, {"code": short_source(call)})
    yield from _cuda_defaults_of_entrypoints(ctx)


def _cuda_defaults_of_entrypoints(ctx: LintContext):
    """An entry point whose parameter defaults to CUDA and that uses it without checking for a GPU.

    ``torch.hub.load(repo, name)`` calls the entry point with its defaults, so
    knn-vc's ``def knn_vc(..., device='cuda')``, which hands ``device`` on to
    ``.to(device)``, fails on every CPU-only machine (bshall/knn-vc#14). A default
    the body checks (``if not torch.cuda.is_available(): device = 'cpu'``) or
    never reads (a placeholder) is fine.
    """
    if ctx.model is None:
        return
    reported: set[int] = set()
    for entry in ctx.model.entrypoints:
        definition = entry.definition
        if entry.leaked or definition is None or not definition.local \
                or not isinstance(definition.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        function = definition.node
        if id(function) in reported:
            continue
        reported.add(id(function))
        names = ctx.names(definition.path)
        # The defaults first: walking every entry point's body cost a 1,000-entry-point zoo a quarter second.
        cuda_defaults = [(arg, default) for arg, default in _defaults(function.args) if _is_cuda_default(default, names)]
        if not cuda_defaults or _checks_for_cuda(function):
            continue
        read = {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        for arg, default in cuda_defaults:
            if arg.arg in read:
                yield Violation(definition.path, default.lineno, default.col_offset + 1,
                                {"code": f"{function.name}({arg.arg}={ast.unparse(default)})"}, entry.name)


def _defaults(args: ast.arguments) -> list[tuple[ast.arg, ast.expr]]:
    """Each parameter that has a default, with it (positional defaults belong to the last parameters)."""
    positional = [*args.posonlyargs, *args.args]
    with_default = positional[len(positional) - len(args.defaults):]
    return [*zip(with_default, args.defaults, strict=True),
            *((arg, default) for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
              if default is not None)]


def _is_cuda_default(default: ast.expr, names: FileNames) -> bool:
    """``"cuda"``, ``"cuda:0"`` or ``torch.device("cuda")`` as a parameter's default."""
    if isinstance(default, ast.Call) and names.qualified(default.func) == "torch.device":
        return _is_cuda_literal(argument(default, 0, "type"))
    return _is_cuda_literal(default)


def _checks_for_cuda(function: ast.AST) -> bool:
    """Whether a function asks anywhere whether CUDA is there (``torch.cuda.is_available()``)."""
    return any(isinstance(node, ast.Attribute) and _is_cuda_probe(node) for node in ast.walk(function))


# -- HUB205: downloads nobody checks -------------------------------------------------------------

# torch/hub.py: the hash prefix is read from the file name, `resnet18-f37072fd.pth`.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")


def _has_hash_suffix(file_name: str) -> bool:
    """Whether torch.hub finds a non-empty hash prefix in a checkpoint's file name."""
    match = _HASH_IN_NAME.search(file_name)
    return match is not None and match.group(1) != ""


# urllib's download to a file: no hash, no size check, and an interrupted download leaves a partial file behind.
_URLRETRIEVE = "urllib.request.urlretrieve"
# The fix for a download that checks nothing, urllib's or requests'.
_CHECKED_DOWNLOAD = ("download it with `torch.hub.download_url_to_file(url, dst, hash_prefix=...)`, which "
                     "checks the sha256 prefix and moves the file into place only when complete")


# requests' fetch, where the caller writes the body to a file itself (yolov6's download_ckpt, coqui TTS's zips).
_REQUESTS_GET = "requests.get"


# A call whose name says it checks a digest: `.hexdigest()`, imgclsmob's `_check_sha1(fname, sha1_hash)`.
_VERIFIES = re.compile(r"digest|sha\d|sha_|md5|hash", re.IGNORECASE)


def _response_name(call: ast.Call, ancestors: tuple[ast.AST, ...]) -> str | None:
    """The name a ``requests.get(...)`` response is bound to: ``r = requests.get(...)`` or ``with ... as r``."""
    parent = ancestors[-1] if ancestors else None
    target: ast.expr | None = None
    if isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1:
        target = parent.targets[0]
    elif isinstance(parent, (ast.With, ast.withitem)):
        items = parent.items if isinstance(parent, ast.With) else [parent]
        target = next((item.optional_vars for item in items if item.context_expr is call), None)
    return target.id if isinstance(target, ast.Name) else None


def _writes_response_to_file(function: ast.AST, response: str, names: FileNames) -> bool:
    """Whether ``function`` writes the body of the response named ``response`` to a file: ``f.write(r.content)``,
    ``f.write(chunk)`` in ``for chunk in r.iter_content(...)``, ``shutil.copyfileobj(r.raw, f)``; and checks no
    digest on the way (no ``hashlib`` call, no call named for a hash: ``.hexdigest()``, ``_check_sha1``)."""
    def body_of(node: ast.expr) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "read":
            node = node.func.value  # r.raw.read()
        return (isinstance(node, ast.Attribute) and node.attr in ("content", "raw")
                and isinstance(node.value, ast.Name) and node.value.id == response)

    chunks: set[str] = set()
    for node in ast.walk(function):
        if (isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Call)
                and isinstance(node.iter.func, ast.Attribute) and node.iter.func.attr in ("iter_content", "iter_lines")
                and isinstance(node.iter.func.value, ast.Name) and node.iter.func.value.id == response):
            chunks.add(node.target.id)
    writes = False
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        called = names.qualified(node.func) or dotted_name(node.func) or ""
        if called.startswith("hashlib.") or _VERIFIES.search(called.rpartition(".")[2]):
            return False
        if (isinstance(node.func, ast.Attribute) and node.func.attr == "write" and node.args
                and (body_of(node.args[0]) or (isinstance(node.args[0], ast.Name) and node.args[0].id in chunks))):
            writes = True
        if called == "shutil.copyfileobj" and node.args and body_of(node.args[0]):
            writes = True
    return writes


def _unchecked_download(call: ast.Call, name: str | None, names: FileNames, chain) -> dict | None:
    """The message arguments when a download's integrity is not checked, else None."""
    if name == _URLRETRIEVE:
        if _downloads_a_config_file(call, names, chain, target=(1, "filename")):
            return None
        return {"problem": "downloads a file that nothing checks (urlretrieve takes no hash, and an interrupted "
                           "download leaves a partial file that is used next time)",
                "remedy": _CHECKED_DOWNLOAD}
    if name == DOWNLOAD_URL_TO_FILE:
        if _downloads_a_config_file(call, names, chain):
            return None
        hash_prefix = argument(call, 2, "hash_prefix")
        if hash_prefix is None or is_constant(hash_prefix, None) or names.literal(hash_prefix, chain) == "":
            return {"problem": "downloads a file without hash_prefix: a truncated or replaced file is used unchecked",
                    "remedy": "pass `hash_prefix=` the first hex digits of the file's sha256 (`sha256sum FILE`)"}
        return None
    if name != LOAD_STATE_DICT_FROM_URL:
        return None
    check_hash = argument(call, 4, "check_hash")
    if check_hash is None or is_constant(check_hash, False):
        return {"problem": "downloads weights without check_hash=True: a truncated or replaced file is loaded unchecked",
                "remedy": "name the file `<name>-<first 8+ hex digits of its sha256>.<ext>` and pass `check_hash=True`"}
    # An entry point's `check_hash=True` parameter passed on is what the default call sets (animegan2's generator).
    if not is_constant(check_hash, True) and not is_constant(names.parameter_default(check_hash, chain), True):
        return None
    file_name = argument(call, 5, "file_name")
    if file_name is MAYBE:
        return None
    if file_name is not None:
        candidates = names.literal_candidates(file_name, chain)
    else:
        url = argument(call, 0, "url")
        urls = names.literal_candidates(url, chain) if url is not None and url is not MAYBE else []
        candidates = [os.path.basename(urlparse(u).path) for u in urls]
    unhashed = next((c for c in candidates if not _has_hash_suffix(c)), None)
    if unhashed is None:
        return None
    return {"problem": f"sets check_hash=True, but the file name {unhashed!r} has no `-<hex>.` hash part, "
                       "so torch.hub checks nothing",
            "remedy": f"rename the file to put its sha256 prefix before the extension "
                      f"(`{_hashed_example(unhashed)}`) and update the URL"}


def _unchecked_response(call: ast.Call, names: FileNames, ancestors: tuple[ast.AST, ...], chain) -> dict | None:
    """The message arguments when a ``requests.get`` response is written to a file with no digest taken."""
    response = _response_name(call, ancestors)
    if not chain or response is None or not _writes_response_to_file(chain[0], response, names):
        return None
    if _downloads_a_config_file(call, names, chain, target=(0, "url")):
        return None
    return {"problem": "downloads a file that nothing checks (the response is written out as it comes, with no "
                       "hash, and an interrupted download leaves a partial file that is used next time)",
            "remedy": _CHECKED_DOWNLOAD}


# A model index or config (silero's `latest_silero_models.yml`) says where the weights are; it is not
# weights. A vocabulary (`vocab.txt`) is part of the model and stays checked.
# A font (yolov9's check_font fetches Arial.ttf for its plots) is not weights either.
_CONFIG_SUFFIXES = (".yml", ".yaml", ".json", ".toml", ".cfg", ".ini", ".ttf", ".otf")


def _downloads_a_config_file(call: ast.Call, names: FileNames, chain, target: tuple[int, str] = (1, "dst")) -> bool:
    """Whether a download fetches a config, index or font file (by the URL's or the target's name)."""
    for position, keyword in ((0, "url"), target):
        passed = argument(call, position, keyword)
        if passed is not None and passed is not MAYBE:
            value = names.literal(passed, chain)
            if value is None:
                value = _file_name(passed, names, chain)
            if value is not None and urlparse(value).path.lower().endswith(_CONFIG_SUFFIXES):
                return True
    return False


def _file_name(expr: ast.expr, names: FileNames, chain: tuple[ast.AST, ...], depth: int = 0) -> str | None:
    """The last part of a path or URL built at run time, where its own default or binding says it.

    yolov9's ``check_font(font=FONT)`` downloads ``f".../{font.name}"`` to
    ``str(CONFIG_DIR / font.name)``, where ``font = Path(font)``: the name is
    the parameter's default, ``FONT = "Arial.ttf"``. Only the last part is
    followed (the right of ``/``, the last piece of an f-string, ``.name``,
    ``str()`` / ``Path()``), into a name's single binding or a parameter's default.
    """
    if depth > 6:
        return None
    known = names.literal(expr, chain)
    if known is not None:
        return known
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
        return _file_name(expr.right, names, chain, depth + 1)
    if isinstance(expr, ast.JoinedStr) and expr.values:
        last = expr.values[-1]
        return _file_name(last.value if isinstance(last, ast.FormattedValue) else last, names, chain, depth + 1)
    if isinstance(expr, ast.Attribute) and expr.attr == "name":
        return _file_name(expr.value, names, chain, depth + 1)
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and names.qualified(expr.func) in ("str", "pathlib.Path"):
        return _file_name(expr.args[0], names, chain, depth + 1)
    if isinstance(expr, ast.Name):
        found = names.single_value(expr.id, chain, expr.lineno)
        if found is not None:
            return _file_name(found[0], names, found[1], depth + 1)
        function = chain[0] if chain else None
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            default = next((d for arg, d in _defaults(function.args) if arg.arg == expr.id), None)
            if default is not None:
                return _file_name(default, names, chain[1:], depth + 1)
    return None


def _hashed_example(file_name: str) -> str:
    stem, dot, extension = file_name.partition(".")
    return f"{stem}-1a2b3c4d.{extension}" if dot else f"{file_name}-1a2b3c4d.pth"


@rule(
    code="HUB205",
    name="unchecked-weights-download",
    severity=Severity.WARNING,
    message="`{call}(...)` {problem}",
    fix="{remedy}, so a corrupted or replaced download fails instead of being used",
)
def unchecked_weights_download(ctx: LintContext):
    """
    ## What it does
    Checks that weights downloaded in reached code are verified against a hash.

    Flags `load_state_dict_from_url` (torch.hub and model_zoo spellings)
    without `check_hash=True` (keyword or 5th positional argument),
    `download_url_to_file` without `hash_prefix` (keyword or 3rd
    positional), every `urllib.request.urlretrieve` (which takes no
    hash at all), and every `requests.get` whose response the same function
    writes to a file (`f.write(r.content)`, chunks of `r.iter_content()`,
    `shutil.copyfileobj(r.raw, f)`) without a `hashlib` digest, unless the URL or target names a config or index file
    (`.yml`, `.yaml`, `.json`, `.toml`, `.cfg`, `.ini`) or a font (`.ttf`,
    `.otf`), which are not weights; a name built at run time is followed to
    its last part, through a single binding or a parameter's default
    (yolov9's `check_font(font=FONT)` with `FONT = "Arial.ttf"`). It also flags
    `check_hash=True` when the file name (the
    URL's basename, the `file_name=` literal, or any value of a literal URL
    table indexed by a variable) has no `-<hex>.` part: torch.hub takes the
    expected hash from there, and a name without one is not checked at all.
    A check passed through a variable or `**kwargs` is not judged.

    ## Why is this bad?
    Weights are cached under `<hub>/checkpoints/<file name>` and reused
    forever. A download cut short by a proxy, a file replaced on the server,
    or another entry point's file with the same basename is then loaded
    without complaint, and the model silently gives wrong results (or
    `torch.load` fails with an unreadable pickle error far from the cause).

    ## Example
    ```python
    model.load_state_dict(load_state_dict_from_url(
        "https://example.com/weights/unet_carvana.pth", map_location="cpu", check_hash=True))
    ```

    ## Use instead
    ```python
    model.load_state_dict(load_state_dict_from_url(
        "https://example.com/weights/unet_carvana-2e0f1d3a.pth", map_location="cpu", check_hash=True))
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load_state_dict_from_url
    - torch/hub.py `HASH_REGEX = re.compile(r'-([a-f0-9]*)\\.')`
    """
    for unit, call, callee in ctx.calls_to(DOWNLOAD_URL_TO_FILE, LOAD_STATE_DICT_FROM_URL, _URLRETRIEVE,
                                           _REQUESTS_GET):
        names = ctx.names(unit.path)
        ancestors = ctx.ancestors(unit, call)
        chain = enclosing_functions(ancestors)
        if callee == _REQUESTS_GET:
            found = _unchecked_response(call, names, ancestors, chain)
        else:
            found = _unchecked_download(call, callee, names, chain)
        if found is not None:
            yield _at(unit, call, {"call": ast.unparse(call.func), **found})
