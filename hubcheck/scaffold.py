"""``hubcheck init``: start a new hub repo from the reference repo's template.

It writes only into an empty directory unless forced, and even then never
replaces a file that is already there.
"""

from __future__ import annotations

import keyword
import re
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from hubcheck import __version__
from hubcheck.errors import UsageError
from hubcheck.static.collisions import GENERIC_MODULE_NAMES, SHADOWING_MODULE_NAMES

TEMPLATES = Path(__file__).resolve().parent / "templates" / "init"


@dataclass(frozen=True)
class ScaffoldFile:
    """One file ``init`` writes: where it goes and the template it comes from."""

    target: str
    template: str
    binary: bool = False


def _files(package: str) -> tuple[ScaffoldFile, ...]:
    return (
        ScaffoldFile("hubconf.py", "hubconf.py.tmpl"),
        ScaffoldFile(f"{package}/__init__.py", "package_init.py.tmpl"),
        ScaffoldFile(f"{package}/model.py", "model.py.tmpl"),
        ScaffoldFile(f"{package}/weights/mlp_blobs.pth", "mlp_blobs.pth", binary=True),
        ScaffoldFile("train.py", "train.py.tmpl"),
        ScaffoldFile("hubcheck.toml", "hubcheck.toml.tmpl"),
        ScaffoldFile("README.md", "README.md.tmpl"),
        ScaffoldFile(".github/workflows/hubcheck.yml", "workflow.yml.tmpl"),
        ScaffoldFile(".pre-commit-config.yaml", "pre-commit-config.yaml.tmpl"),
    )


@dataclass(frozen=True)
class ScaffoldResult:
    directory: Path
    package: str
    written: tuple[str, ...]
    kept: tuple[str, ...]
    """Files that already existed and were left untouched (only with force)."""


def package_name(name: str) -> str:
    """A distinctive importable package name for the project."""
    candidate = re.sub(r"\W+", "_", name.strip().lower()).strip("_")
    if candidate and candidate[0].isdigit():
        candidate = f"hub_{candidate}"
    if not candidate or keyword.iskeyword(candidate):
        raise UsageError(f"cannot make a package name from {name!r}: pass --name with letters, e.g. --name my_models")
    if candidate in SHADOWING_MODULE_NAMES:
        raise UsageError(f"{candidate!r} would hide the module of that name on sys.path; pass a distinctive --name, "
                         f"e.g. --name my_{candidate}")
    if candidate in GENERIC_MODULE_NAMES:
        raise UsageError(
            f"{candidate!r} is too generic a package name: it collides in sys.modules when two hub repos are "
            f"loaded in one process (HUB303); pass a distinctive --name, e.g. --name {candidate}_of_yours"
        )
    return candidate


def scaffold(directory: Path, name: str | None = None, force: bool = False) -> ScaffoldResult:
    """Write a new hub repo into ``directory``.

    Raises:
        UsageError: the directory is not empty (and ``force`` is off), is a file, or the name is unusable.
    """
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    if directory.exists() and any(directory.iterdir()) and not force:
        raise UsageError(f"{directory} is not empty: choose a new directory, or pass --force to add the files "
                         "that are missing (existing files are never overwritten)")
    project = name or directory.name
    package = package_name(project)
    values = {"name": project, "package": package, "version": __version__}
    written: list[str] = []
    kept: list[str] = []
    for item in _files(package):
        target = directory / item.target
        if target.exists():
            kept.append(item.target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = TEMPLATES / item.template
        if item.binary:
            shutil.copyfile(source, target)
        else:
            text = string.Template(source.read_text(encoding="utf-8")).substitute(values)
            # "x" mode: a file appearing since the check above is still never replaced.
            with target.open("x", encoding="utf-8") as handle:
                handle.write(text)
        written.append(item.target)
    return ScaffoldResult(directory, package, tuple(written), tuple(kept))
