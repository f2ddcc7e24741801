"""Generate ``hubcheck/static/known_modules.json``: what hubcheck knows about modules that are not repo code.

hubcheck's static commands never import anything to decide whether a name is callable
(see ``hubcheck/static/modules.py``). For the standard library and the third-party
packages hub repos import most, that knowledge is this table, made here once, by
importing the modules in this separate developer-run process, and shipped with hubcheck.

Run it from a development environment that has the packages below installed::

    python tools/generate_static_knowledge.py

The table records, for each module: whether it is a package, and for each public name
one letter: ``f`` callable (a function, a builtin, a typing form), ``c`` a class whose
instances are callable (``nn.Module``), ``k`` a class whose instances are not, ``m`` a
module, ``n`` anything else (not callable). Submodules of a package are listed as ``m``
even when importing the package does not load them.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import pkgutil
import sys
import types
import warnings
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "hubcheck" / "static" / "known_modules.json"

# Standard-library modules never imported here: they open windows, start programs, or
# are test suites with no names hub repos use. Their names stay unknown to hubcheck.
STDLIB_SKIPPED = ("antigravity", "this", "idlelib", "turtledemo", "tkinter", "turtle", "test", "lib2to3",
                  "ensurepip", "pydoc_data", "__phello__", "__hello__")

# Third-party modules read fully; "*" also reads every submodule below.
THIRD_PARTY = (
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.modules", "torch.nn.parameter",
    "torch.nn.utils", "torch.nn.parallel", "torch.hub", "torch.utils", "torch.utils.model_zoo",
    "torch.utils.data", "torch.utils.checkpoint", "torch.optim", "torch.optim.lr_scheduler", "torch.cuda",
    "torch.cuda.amp", "torch.amp", "torch.jit", "torch.autograd", "torch.backends", "torch.backends.cudnn",
    "torch.fft", "torch.linalg", "torch.distributions", "torch.distributed", "torch.serialization",
    "torch.types", "torch.onnx", "torch.fx", "torch.testing",
    "torchvision*", "numpy", "numpy.linalg", "numpy.random", "numpy.fft", "PIL*", "yaml", "safetensors",
    "safetensors.torch", "scipy", "typing_extensions",
    # scikit-learn is a hubcheck dependency, and course repos import its estimators, datasets and metrics.
    "sklearn", "sklearn.datasets", "sklearn.metrics", "sklearn.model_selection", "sklearn.ensemble", "sklearn.svm",
    "sklearn.neural_network", "sklearn.linear_model", "sklearn.preprocessing", "sklearn.cluster",
    "sklearn.decomposition", "sklearn.neighbors", "sklearn.tree", "sklearn.pipeline",
)

_KINDS = "fckmn"


def _classify(value: object) -> str:
    if isinstance(value, types.ModuleType):
        return "m"
    if isinstance(value, type):
        return "c" if any("__call__" in vars(klass) for klass in value.__mro__) else "k"
    return "f" if callable(value) else "n"


def _submodule_names(module: types.ModuleType) -> list[str]:
    path = getattr(module, "__path__", None)
    # torch.ops and torch.classes fake a package with a `__path__` that is not a list of directories.
    if path is None or not all(isinstance(entry, str) for entry in _entries(path)):
        return []
    return sorted(info.name for info in pkgutil.iter_modules(path))


def _entries(path: object) -> list[object]:
    try:
        return list(path)  # type: ignore[call-overload]
    except TypeError:
        return [path]


def _describe(module: types.ModuleType) -> dict[str, object]:
    names: dict[str, str] = {}
    for name in _submodule_names(module):
        names[name] = "m"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in dir(module):
            try:
                value = getattr(module, name)
            except Exception:  # noqa: BLE001, S112 - a lazy attribute that fails is simply left out
                continue
            kind = _classify(value)
            # Private names are never entry points; private submodules are still imported by name.
            if not name.startswith("_") or (kind == "m" and not name.startswith("__")):
                names[name] = kind
    grouped = {kind: " ".join(sorted(n for n, k in names.items() if k == kind)) for kind in _KINDS}
    return {"package": hasattr(module, "__path__"), **{k: v for k, v in grouped.items() if v}}


def _quiet_import(name: str) -> types.ModuleType | None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a module that cannot be imported here is not described
            return None


def _walk(name: str, skipped: tuple[str, ...]) -> list[str]:
    """``name`` and every submodule below it, except ``__main__`` modules and ``skipped``."""
    found = [name]
    module = _quiet_import(name)
    if module is None:
        return []
    for child in _submodule_names(module):
        dotted = f"{name}.{child}"
        if child == "__main__" or dotted in skipped or child.startswith("test"):
            continue
        found += _walk(dotted, skipped)
    return found


def _stdlib_roots() -> list[str]:
    return sorted(name for name in sys.stdlib_module_names if name not in STDLIB_SKIPPED)


def generate() -> dict[str, object]:
    modules: dict[str, object] = {}
    wanted: list[str] = []
    for root in _stdlib_roots():
        wanted += _walk(root, ())
    for spec in THIRD_PARTY:
        if _quiet_import(spec.rstrip("*")) is None:
            raise SystemExit(f"cannot import {spec.rstrip('*')}: run this in hubcheck's development environment")
        wanted += _walk(spec[:-1], ()) if spec.endswith("*") else [spec]
    for name in wanted:
        module = _quiet_import(name)
        if module is None or name in modules:
            continue
        modules[name] = _describe(module)
        # `os.path` is an attribute that `os` puts in sys.modules, so `from os.path import join` works.
        for attribute, value in vars(module).items():
            dotted = f"{name}.{attribute}"
            if isinstance(value, types.ModuleType) and sys.modules.get(dotted) is value and dotted not in modules:
                modules[dotted] = _describe(value)
    return {
        "generated_by": "tools/generate_static_knowledge.py",
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "third_party": {spec.rstrip("*").partition(".")[0]: _version(spec.rstrip("*").partition(".")[0])
                        for spec in THIRD_PARTY},
        "modules": dict(sorted(modules.items())),
    }


def _version(top: str) -> str | None:
    module = sys.modules.get(top)
    return getattr(module, "__version__", None) if module else None


def main() -> None:
    table = generate()
    OUTPUT.write_text(json.dumps(table, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(table['modules'])} modules")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
