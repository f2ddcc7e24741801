"""Rules about what hubconf does when imported and how it imports (HUB301-HUB304).

torch.hub executes hubconf.py, as a module named ``"hubconf.py"`` with no
package, for every list, help and load; it puts the repo on ``sys.path[0]``
meanwhile and leaves every module imported in ``sys.modules`` afterwards.
These rules catch code that misbehaves under exactly that treatment.
"""

from __future__ import annotations

import ast
import re

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.collisions import GENERIC_MODULE_NAMES, SHADOWING_MODULE_NAMES
from hubcheck.static.import_calls import inside_inner_definition
from hubcheck.static.names import (
    DOWNLOAD_URL_TO_FILE,
    LOAD_STATE_DICT_FROM_URL,
    FileNames,
    argument,
)
from hubcheck.static.search_path import SYS_PATH_EDIT_NODES, edits_sys_path
from hubcheck.static.syntax import in_try_body_handling_import_error, short_source, span

# -- HUB301: side effects at import time -----------------------------------------------------

# kind -> (what the message says it does, what to do instead)
_EFFECTS = {
    "download": ("downloads weights", "download inside the entry point that needs the weights"),
    "data": ("downloads data", ("download it inside the entry point that needs it, into a directory the "
              "user passes or under `torch.hub.get_dir()`")),
    "hub-load": ("loads another hub repo", "call torch.hub.load inside the entry point that needs the model"),
    "network": ("opens a network connection", "make the request inside the entry point that needs its result"),
    "pip": ("installs packages with pip", ("list the module in `dependencies` instead; torch.hub tells users what "
             "to install")),
    "subprocess": ("runs a subprocess", "run it inside the entry point that needs it, or do the work in Python"),
    "chdir": ("changes the working directory", ("leave the working directory alone and build paths from "
               "`Path(__file__).resolve().parent`")),
    "exit": ("exits the interpreter", ("raise an exception that says what is wrong (ImportError, RuntimeError) "
              "instead of ending the user's process")),
    "write": ("writes to the file system", ("write files inside the entry point that needs them, under "
               "`torch.hub.get_dir()`")),
    "environ": ("changes environment variables", ("pass settings as arguments instead of changing the user's "
                 "process environment")),
    "build": ("builds extensions", ("ship prebuilt extensions or a pure-Python fallback, and list the package "
               "in `dependencies`; never compile into the user's hub cache at import")),
    "settings": ("changes process-wide settings", ("leave the user's logging, print options, thread counts and "
                  "plotting backend alone; set them in the repo's own scripts, which users do not import")),
}

_EFFECT_CALLS = {
    DOWNLOAD_URL_TO_FILE: "download",
    LOAD_STATE_DICT_FROM_URL: "download",
    "urllib.request.urlretrieve": "download",
    "urllib.urlretrieve": "download",
    "wget.download": "download",
    "gdown.download": "download",
    "huggingface_hub.hf_hub_download": "download",
    "huggingface_hub.snapshot_download": "download",
    "nltk.download": "data",
    "torch.hub.load": "hub-load",
    "torch.hub.list": "hub-load",
    "torch.hub.help": "hub-load",
    "urllib.request.urlopen": "network",
    "urllib.urlopen": "network",
    "urllib2.urlopen": "network",
    "http.client.HTTPConnection": "network",
    "http.client.HTTPSConnection": "network",
    "socket.create_connection": "network",
    "socket.socket": "network",
    "os.system": "subprocess",
    "os.popen": "subprocess",
    "os.startfile": "subprocess",
    "os.posix_spawn": "subprocess",
    "os.chdir": "chdir",
    "os.fchdir": "chdir",
    "sys.exit": "exit",
    "exit": "exit",
    "quit": "exit",
    "os._exit": "exit",
    "os.abort": "exit",
    "os.makedirs": "write",
    "os.mkdir": "write",
    "os.remove": "write",
    "os.unlink": "write",
    "os.rename": "write",
    "os.renames": "write",
    "os.replace": "write",
    "os.rmdir": "write",
    "os.removedirs": "write",
    "os.symlink": "write",
    "os.link": "write",
    "os.truncate": "write",
    "torch.save": "write",
    "torch.jit.save": "write",
    "numpy.save": "write",
    "numpy.savez": "write",
    "numpy.savez_compressed": "write",
    "numpy.savetxt": "write",
    "pip.main": "pip",
    "pip._internal.main": "pip",
    "ensurepip.bootstrap": "pip",
    "pip._internal.cli.main.main": "pip",
    "os.putenv": "environ",
    "setuptools.setup": "build",
    "setuptools.sandbox.run_setup": "build",
    "distutils.core.setup": "build",
    "distutils.core.run_setup": "build",
    "os.unsetenv": "environ",
    "logging.basicConfig": "settings",
    "torch.set_printoptions": "settings",
    "numpy.set_printoptions": "settings",
    "cv2.setNumThreads": "settings",
    "torch.set_num_threads": "settings",
    "torch.set_num_interop_threads": "settings",
    "torch.set_default_dtype": "settings",
    "torch.set_default_tensor_type": "settings",
    "torch.set_default_device": "settings",
    "torch.cuda.set_device": "settings",
    "matplotlib.use": "settings",
    "matplotlib.pyplot.switch_backend": "settings",
    "matplotlib.rc": "settings",
    "matplotlib.pyplot.rc": "settings",
    "matplotlib.rcParams.update": "settings",
    "matplotlib.pyplot.rcParams.update": "settings",
    "matplotlib.style.use": "settings",
    "matplotlib.pyplot.style.use": "settings",
}
# Assigning below these changes a setting of the whole process (`pd.options.display.max_columns = 10`).
_SETTINGS_PREFIXES = ("pandas.options.", "torch.backends.cudnn.", "matplotlib.rcParams", "matplotlib.pyplot.rcParams")
_EFFECT_PREFIXES = (
    ("subprocess.", "subprocess"),
    ("os.exec", "subprocess"),
    ("os.spawn", "subprocess"),
    ("requests.", "network"),
    ("httpx.", "network"),
    ("shutil.", "write"),
    ("sklearn.datasets.fetch_", "data"),
)
# Dataset classes that fetch their files only when given `download=True`; without it they read what is on disk.
_DOWNLOADING_DATASETS = ("torchvision.datasets.", "torchaudio.datasets.")
# shutil functions that only read.
_SHUTIL_READ_ONLY = frozenset({"shutil.which", "shutil.disk_usage", "shutil.get_terminal_size",
                               "shutil.get_archive_formats", "shutil.get_unpack_formats"})
# pathlib.Path methods that change the file system (`rename`/`replace` are left out: str has them too).
_WRITING_METHODS = frozenset({"write_text", "write_bytes", "mkdir", "touch", "unlink", "rmdir",
                              "symlink_to", "hardlink_to"})
_ENVIRON_METHODS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"})
_WRITE_MODE = re.compile(r"^[rwxabtU+]{1,4}$")
_PIP = re.compile(r"(^|[\s/\\])pip\d*(\.exe)?($|\s)")


def _is_write_mode(node: ast.expr | None, names: FileNames) -> bool:
    mode = names.literal(node, ()) if node is not None else None
    return mode is not None and bool(_WRITE_MODE.match(mode)) and any(c in mode for c in "wax+")


def _passes_true(call: ast.Call, keyword: str) -> bool:
    """Whether the call passes the literal ``True`` for ``keyword``."""
    return any(k.arg == keyword and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in call.keywords)


def _mentions_pip(call: ast.Call) -> bool:
    return any(
        isinstance(node, ast.Constant) and isinstance(node.value, str) and _PIP.search(node.value)
        for node in ast.walk(call)
    )


def _call_effect(call: ast.Call, names: FileNames) -> str | None:
    """The kind of side effect a call has, or None."""
    name = names.qualified(call.func) or ""
    kind = _EFFECT_CALLS.get(name)
    if kind is None and name not in _SHUTIL_READ_ONLY:
        kind = next((k for prefix, k in _EFFECT_PREFIXES if name.startswith(prefix)), None)
    if kind == "subprocess" and _mentions_pip(call):
        return "pip"
    if kind is not None:
        return kind
    if name.startswith(_DOWNLOADING_DATASETS) and _passes_true(call, "download"):
        return "data"
    if name == "open":
        return "write" if _is_write_mode(argument(call, 1, "mode"), names) else None
    func = call.func
    if isinstance(func, ast.Attribute):
        if func.attr in _WRITING_METHODS:
            return "write"
        if func.attr == "open" and _is_write_mode(argument(call, 0, "mode"), names):
            return "write"
        if func.attr in _ENVIRON_METHODS and names.qualified(func.value) == "os.environ":
            return "environ"
    return None


def _statement_effect(node: ast.AST, names: FileNames) -> str | None:
    """The side effect of a statement that is not a call: ``os.environ[...] = ...``, ``raise SystemExit``."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            base = target.value if isinstance(target, ast.Subscript) else target
            qualified = names.qualified(base) or ""
            if qualified == "os.environ":
                return "environ"
            if qualified.startswith(_SETTINGS_PREFIXES):
                return "settings"
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if names.qualified(exc) in ("SystemExit", "builtins.SystemExit"):
            return "exit"
    return None


@rule(
    code="HUB301",
    name="import-time-side-effect",
    severity=Severity.WARNING,
    message="`{code}` {effect} at import time: it runs as soon as {module} is imported, before any entry "
            "point is called",
    fix="{remedy} (torch.hub.list and help import hubconf too)",
)
def import_time_side_effect(ctx: LintContext):
    """
    ## What it does
    Checks for side effects in the code that runs when hubconf.py is imported.

    Looks at module level, class bodies, decorators and default values of
    hubconf.py and of the repo modules its import runs (its module-level
    imports, the imports of those modules in turn, and the packages above
    them), not function bodies, nor branches torch.hub never takes
    (`if __name__ == "__main__":`, `if not hasattr(torch, "hub"):`), for network access (`urlopen`,
    `requests`, `http.client`, sockets, `torch.hub.load`), weight downloads
    (`load_state_dict_from_url`, `download_url_to_file`), data downloads
    (`nltk.download`, torchvision and torchaudio datasets built with
    `download=True`, scikit-learn's `fetch_*`), subprocesses and
    pip installs, `os.chdir`, `sys.exit` / `raise SystemExit`, file writes
    (`open(..., "w")`, `Path.write_text`, `mkdir`, `os.makedirs`, `shutil`,
    `torch.save`) and environment changes (`os.environ[...] = ...`,
    `os.environ.update`), and C extension builds (`setuptools` `setup` /
    `sandbox.run_setup`), and changes of process-wide settings
    (`logging.basicConfig`, `torch.set_printoptions`, `numpy.set_printoptions`,
    `cv2.setNumThreads`, `torch.set_num_threads`, `torch.set_default_dtype`,
    `torch.cuda.set_device`,
    matplotlib's backend and defaults (`matplotlib.use`, `pyplot.switch_backend`,
    `matplotlib.rc`, `rcParams`, `style.use`),
    assigning `pandas.options...`, `torch.backends.cudnn...` or
    `matplotlib.rcParams[...]`). A call of one
    of the repo's own functions (or classes) in that code is followed into
    the function's body, and into what that body calls in turn, since it runs
    at import too; a function only referenced (`partial(_build, ...)`, a
    registry) is not. A module hubconf imports only inside an entry point
    runs when that entry point is called, not at import time.

    ## Why is this bad?
    torch.hub executes hubconf.py for every `torch.hub.list` and `help`, not
    only for `load`, and re-executes it each time. A download or pip install
    at import time makes listing a repo slow, fails offline and in sandboxes,
    and happens even when the user wanted another entry point. `sys.exit`
    ends the user's program; `os.chdir` and environment changes alter the
    rest of the user's process for good.

    ## Example
    ```python
    import subprocess, sys
    subprocess.check_call([sys.executable, "-m", "pip", "install", "timm"])
    _WEIGHTS = torch.hub.load_state_dict_from_url(URL, map_location="cpu")
    ```

    ## Use instead
    ```python
    dependencies = ["torch", "timm"]

    def model(pretrained=True):
        \"\"\"The model; downloads its weights when `pretrained`.\"\"\"
        net = _build()
        if pretrained:
            net.load_state_dict(torch.hub.load_state_dict_from_url(URL, map_location="cpu", check_hash=True))
        return net
    ```

    ## References
    - torch/hub.py `_import_module`: hubconf is executed by `list`, `help` and `load` alike
    """
    seen: set[tuple] = set()

    def effect_of(unit, node, module: str) -> Violation | None:
        file = ctx.names(unit.path)
        kind = _call_effect(node, file) if isinstance(node, ast.Call) else _statement_effect(node, file)
        if kind is None:
            return None
        key = (unit.path, *span(node))
        if key in seen:
            return None
        seen.add(key)
        effect, remedy = _EFFECTS[kind]
        code = short_source(node.func) if isinstance(node, ast.Call) else short_source(node)
        return Violation(unit.path, node.lineno, node.col_offset + 1,
                         {"code": code, "effect": effect, "module": module, "remedy": remedy}, None)

    for unit, node in ctx.nodes_of(ast.Call, ast.stmt, import_time=True):
        # A module imported only inside an entry point runs when that entry point is called, not at import.
        if unit.entrypoint is None:
            found = effect_of(unit, node, unit.module or "hubconf.py")
            if found is not None:
                yield found
    called = {id(c.unit.node): c for c in ctx.called_at_import}
    for unit, node in ctx.nodes_of(ast.Call, ast.stmt, import_time=False) if called else ():
        origin = called.get(id(unit.node))
        if origin is not None and not inside_inner_definition(ctx.ancestors(unit, node)):
            module = f"{origin.module or 'hubconf.py'} (its line {origin.line} calls `{origin.callee}`)"
            found = effect_of(unit, node, module)
            if found is not None:
                yield found


# -- HUB302: sys.path edits ---------------------------------------------------------------------

@rule(
    code="HUB302",
    name="sys-path-mutation",
    severity=Severity.WARNING,
    message="`{code}` edits sys.path: the change outlives torch.hub.load and decides what every later "
            "import in the user's process finds",
    fix="remove it and import the repo's modules from the repo root (`from mypkg.models import Net`); "
        "torch.hub puts the repo on sys.path[0] while hubconf and the entry point run",
)
def sys_path_mutation(ctx: LintContext):
    """
    ## What it does
    Checks hubconf.py and the repo code it reaches for edits of `sys.path`.

    Flags `sys.path.insert/append/extend/remove/pop/clear`, assigning to
    `sys.path` or `sys.path[...]` (`+=` too), `del sys.path[...]` and
    `site.addsitedir`, under any import alias. All of hubconf.py is checked,
    reached or not, except `if __name__ == "__main__":` blocks; in other
    repo modules only the code hubconf and its entry points reach.

    ## Why is this bad?
    torch.hub inserts the repo at `sys.path[0]` only while it imports
    hubconf and runs the entry point, then removes it. A folder the repo
    adds itself stays for the rest of the user's process: later imports of
    `utils` or `models`, the user's own or another hub repo's, silently
    resolve to this repo's files. Inserting a subfolder also makes one file
    importable under two names, so its classes stop comparing equal.

    ## Example
    ```python
    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "yolo"))
    from models.yolo import Model as _Model
    ```

    ## Use instead
    ```python
    # repo layout: hubconf.py, yolo/models/yolo.py
    from yolo.models.yolo import Model as _Model
    ```

    ## References
    - torch/hub.py `_add_to_sys_path`: the repo is inserted and removed around each import and call
    """
    model = ctx.model
    if model is None:
        return
    hubconf = ctx.names(model.path)
    found: list[tuple] = []
    # Editing sys.path takes `sys` or `site` imported; most files import neither, and skipping them
    # spares a walk of every node.
    if hubconf.imports_from("sys", "site"):
        for node, _, entrypoint in ctx.hubconf_nodes():
            if edits_sys_path(node, hubconf):
                found.append((model.path, node, entrypoint))
    others = {u.path for u in ctx.units if u.path != model.path and ctx.names(u.path).imports_from("sys", "site")}
    for unit, node in ctx.nodes_of(*SYS_PATH_EDIT_NODES) if others else ():
        if unit.path in others and edits_sys_path(node, ctx.names(unit.path)):
            found.append((unit.path, node, unit.entrypoint))
    seen: set[tuple] = set()
    for path, node, entrypoint in found:
        key = (path, *span(node))
        if key not in seen:
            seen.add(key)
            code = ast.unparse(node.func) if isinstance(node, ast.Call) else short_source(node)
            yield Violation(path, node.lineno, node.col_offset + 1, {"code": code}, entrypoint)


# -- HUB303: module names every repo uses ----------------------------------------------------------

def _repo_package(ctx: LintContext) -> str:
    """A package name made from the repo's folder name that HUB303 would not flag itself."""
    slug = re.sub(r"\W+", "_", ctx.repo_root.name.lower()).strip("_") or "myrepo"
    if slug[0].isdigit():
        slug = f"repo_{slug}"
    return f"{slug}_hub" if slug in GENERIC_MODULE_NAMES or slug in SHADOWING_MODULE_NAMES else slug


def _suggested_package(ctx: LintContext, name: str) -> str:
    return f"{_repo_package(ctx)}_{name}"


@rule(
    code="HUB303",
    name="generic-module-name",
    severity=Severity.WARNING,
    message="{importer} imports the repo's module {name!r}{chain}, a name other hub repos use too: loading "
            "two of them in one process gives the second one the first's {name!r} from sys.modules",
    fix="rename it to something only this repo uses (e.g. `{suggested}`), or move it into a uniquely named "
        "package and import `yourpackage.{name}`",
)
def generic_module_name(ctx: LintContext):
    """
    ## What it does
    Checks for repo modules with generic top-level names that code run by
    torch.hub imports.

    Follows the imports from hubconf.py's module level into the repo's
    modules, and the code each entry point runs, as the other import-time
    rules do: an import that runs when hubconf is imported, or when an
    entry point is called, leaves its module in `sys.modules` all the same.
    It looks for absolute imports of a top-level module or package inside
    the repo named `utils`, `models`, `common`, `layers`, `config`...
    (`GENERIC_MODULE_NAMES`). Each name is reported once, at the import
    that binds it, with the chain of imports from hubconf in the message
    (`hubconf -> vision_transformer -> utils` when hubconf imports
    `vision_transformer.py` and that does `from utils import trunc_normal_`);
    an import when hubconf is imported comes before one in an entry point,
    and the shortest chain first. Code no entry point reaches (training
    scripts), installed packages with those names, repo modules inside a
    uniquely named package (`from mynet.models import x`) and relative
    imports inside a package are not flagged.

    ## Why is this bad?
    torch.hub imports a repo's modules with the repo at `sys.path[0]` and
    leaves every one of them in `sys.modules` afterwards. The next repo that
    runs `import models` gets the first repo's `models` from `sys.modules`
    without looking at its own files, and fails with an AttributeError or
    ImportError, or builds the wrong network. Loading
    `facebookresearch/detr` and then `ultralytics/yolov5` in one process
    fails with "No module named 'models.yolo'": both repos have a top-level
    `models` package.

    ## Example
    ```python
    # repo layout: hubconf.py, models/, utils.py
    from models.resnet import ResNet as _ResNet
    from utils import load_weights as _load_weights
    ```

    ## Use instead
    ```python
    # repo layout: hubconf.py, mynet/models/, mynet/utils.py
    from mynet.models.resnet import ResNet as _ResNet
    from mynet.utils import load_weights as _load_weights
    ```

    ## References
    - https://github.com/pytorch/hub/issues/243
    - https://pytorch.org/docs/stable/hub.html#known-limitations
    - torch/hub.py `_import_module`: modules imported by hubconf are never removed from sys.modules
    """
    for found in ctx.generic_imports:
        importer = f"calling `{found.entrypoint}`" if found.entrypoint else "hubconf"
        chain = f" ({' -> '.join(('hubconf', *found.chain))})" if len(found.chain) > 1 else ""
        yield Violation(found.path, found.node.lineno, found.node.col_offset + 1,
                        {"importer": importer, "name": found.name, "chain": chain,
                         "suggested": _suggested_package(ctx, found.name)},
                        found.entrypoint)


# -- HUB304: relative imports in hubconf -------------------------------------------------------------


def _absolute_form(ctx: LintContext, node: ast.ImportFrom) -> tuple[str, str]:
    """The import written from the repo root, and what to do first when that form would break HUB303."""
    # `from . import models`: each name is a module at the repo root.
    tops = [node.module.partition(".")[0]] if node.module else [alias.name for alias in node.names]
    generic = next((top for top in tops if top in GENERIC_MODULE_NAMES), None)
    if generic is None:
        statement = ast.ImportFrom(module=node.module, names=node.names, level=0) if node.module \
            else ast.Import(names=node.names)
        return ast.unparse(statement), ""
    package = _repo_package(ctx)
    module = f"{package}.{node.module}" if node.module else package
    moved = (f", after moving `{generic}` into a package only this repo uses (`{package}/{generic}`): "
             f"`{generic}` alone collides with other hub repos' modules (HUB303)")
    return ast.unparse(ast.ImportFrom(module=module, names=node.names, level=0)), moved


@rule(
    code="HUB304",
    name="relative-import-in-hubconf",
    severity=Severity.ERROR,
    message="`{statement}` is a relative import: torch.hub executes hubconf.py as a module with no "
            "package, so it raises ImportError",
    fix="import from the repo root instead: `{absolute}`{moved}",
)
def relative_import_in_hubconf(ctx: LintContext):
    """
    ## What it does
    Checks hubconf.py for relative imports, which always fail under torch.hub.

    Flags `from . import x` and `from .models import y`, at module level and
    in functions. A relative import inside `try:` whose `except` catches
    ImportError (with an absolute fallback) is not flagged.

    ## Why is this bad?
    torch.hub loads hubconf.py with `spec_from_file_location("hubconf.py", path)`:
    a module with no parent package. Every relative import then fails with
    "attempted relative import with no known parent package", so list, help
    and load fail (or, inside a function, the entry point does), although
    the same line works when the repo is used as a package.

    ## Example
    ```python
    from .mynet.models import resnet50 as _resnet50
    ```

    ## Use instead
    ```python
    # repo layout: hubconf.py, mynet/__init__.py, mynet/models.py
    from mynet.models import resnet50 as _resnet50
    ```

    ## References
    - torch/hub.py `_import_module`: `importlib.util.spec_from_file_location(name, path)`
    - https://docs.python.org/3/reference/import.html#package-relative-imports
    """
    model = ctx.model
    if model is None or not any(i.relative for i in model.imports):
        return
    for node, ancestors, entrypoint in ctx.hubconf_nodes():
        if isinstance(node, ast.ImportFrom) and node.level > 0 \
                and not in_try_body_handling_import_error(node, ancestors):
            absolute, moved = _absolute_form(ctx, node)
            yield Violation(model.path, node.lineno, node.col_offset + 1,
                            {"statement": ast.unparse(node), "absolute": absolute, "moved": moved}, entrypoint)
