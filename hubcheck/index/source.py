"""SOURCE of ``hubcheck index``: a hub index checkout (pages with front matter) or a list file of REPOs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from hubcheck.errors import UsageError
from hubcheck.index.pages import NOT_PAGES, IndexPage, index_images, index_tags, read_page


class SourceKind(str, enum.Enum):
    INDEX = "index"
    """A checkout of a hub index: one markdown page per model, as pytorch/hub lays them out."""
    LIST = "list"
    """A text file of REPO specs, one a line, ``#`` comments."""


@dataclass(frozen=True)
class IndexEntry:
    """One repo to check, and the pages of the index that name it."""

    spec: str
    """REPO as written (for pages, the ``owner/name`` they name)."""
    cwd: Path
    """The directory a relative REPO path is read from: the list file's."""
    origins: tuple[str, ...]
    """Where SOURCE names it: ``list.txt:3``, or the page paths."""
    pages: tuple[IndexPage, ...] = ()


@dataclass(frozen=True)
class IndexSource:
    path: Path
    kind: SourceKind
    entries: tuple[IndexEntry, ...]
    orphan_pages: tuple[IndexPage, ...] = ()
    """Pages that name no repo at all: reported, nothing to check."""


def read_source(path: Path) -> IndexSource:
    """Read SOURCE; a directory is an index checkout, a file a list of REPOs.

    Raises:
        UsageError: SOURCE is missing, unreadable, a hub repo itself, or names nothing to check.
    """
    if path.is_dir():
        if (path / "hubconf.py").exists():
            raise UsageError(f"{path} is a hub repo, not an index: check it with `hubcheck lint {path}` or "
                             "`hubcheck validate`, or list REPOs one a line in a file")
        return _read_index(path)
    if path.is_file():
        return _read_list(path)
    raise UsageError(f"no such file or directory: {path} (SOURCE is a hub index checkout or a file of REPOs)")


def _read_index(root: Path) -> IndexSource:
    tags, images = index_tags(root), index_images(root)
    files = sorted(p for p in root.glob("*.md") if p.name not in NOT_PAGES and p.is_file())
    if not files:
        raise UsageError(f"{root} holds no model pages (*.md with front matter, as pytorch/hub has them)")
    try:
        pages = [read_page(root, file, tags, images) for file in files]
    except OSError as error:
        raise UsageError(f"cannot read {error.filename}: {error.strerror}") from None
    # GitHub names are case-insensitive: `NVIDIA/x` and `nvidia/x` are one repo, checked as its first page writes it.
    by_repo: dict[str, list[IndexPage]] = {}
    for page in pages:
        if page.repo_id is not None:
            by_repo.setdefault(page.repo_id.lower(), []).append(page)
    entries = tuple(IndexEntry(named[0].repo_id or key, root, tuple(p.path for p in named), tuple(named))
                    for key, named in by_repo.items())
    return IndexSource(root, SourceKind.INDEX, entries, tuple(p for p in pages if p.repo_id is None))


def _read_list(path: Path) -> IndexSource:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    seen: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        spec = _without_comment(line)
        if spec:
            seen.setdefault(spec, []).append(f"{path.name}:{number}")
    if not seen:
        raise UsageError(f"{path} names no REPO (one a line: a directory, owner/name[:ref] or git+URL[@REF]; "
                         "# starts a comment)")
    cwd = path.resolve().parent
    return IndexSource(path, SourceKind.LIST, tuple(IndexEntry(spec, cwd, tuple(origins))
                                                    for spec, origins in seen.items()))


def _without_comment(line: str) -> str:
    """The line without a ``#`` comment that starts it or follows whitespace (a URL's ``#`` stays)."""
    stripped = line.strip()
    if stripped.startswith("#"):
        return ""
    for index, char in enumerate(stripped):
        if char == "#" and stripped[index - 1].isspace():
            return stripped[:index].strip()
    return stripped
