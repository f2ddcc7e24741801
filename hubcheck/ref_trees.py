"""The files of a hub repo at a given ref, without touching the user's checkout.

Git sources (``owner/name``, ``git+URL``) already keep one exported tree per commit in
the hubcheck cache (:mod:`hubcheck.resolve`), so another ref is another resolve. A local
directory (or a bare repository) is read from its git repository: ``git archive`` of the
ref's sources and configuration (what static reading needs), unpacked into a temporary
directory that is deleted afterwards; the work tree, index and HEAD are never changed.
Without a ref, a local directory is used as it is on disk, uncommitted changes included:
what a pull request is about to publish.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hubcheck.errors import ResolutionError
from hubcheck.resolve import RepoSpec, SourceKind, resolve


@dataclass(frozen=True)
class RefTree:
    """One side of a comparison: the repo's files at one ref."""

    ref: str
    """The ref as asked for, or ``working tree`` for a local directory as it is."""
    commit: str | None
    """The full SHA, or None for a working tree."""
    path: Path
    """The directory holding the repo root at that ref (deleted when the context ends, for local refs)."""
    dirty: bool | None = None
    """For a working tree: whether it has uncommitted changes."""

    def to_json(self) -> dict[str, object]:
        return {"ref": self.ref, "commit": self.commit, "dirty": self.dirty}


@contextmanager
def ref_tree(spec: RepoSpec, ref: str | None, *, refresh: bool = False) -> Iterator[RefTree]:
    """The repo ``spec`` at ``ref`` (None: the spec's own ref, or a local directory as it is).

    Raises:
        ResolutionError: the ref is unknown, the directory is not in a git work tree, or git failed.
    """
    if spec.kind is not SourceKind.LOCAL:
        resolved = resolve(dataclasses.replace(spec, ref=ref or spec.ref), refresh=refresh)
        yield RefTree(resolved.ref or "HEAD", resolved.commit, resolved.path)
        return
    assert spec.path is not None, "LOCAL specs always have a path"
    if ref is None:
        resolved = resolve(spec)
        yield RefTree("working tree", resolved.commit, resolved.path, resolved.dirty)
        return
    with tempfile.TemporaryDirectory(prefix="hubcheck-ref-") as scratch:
        commit = _export_local(spec.path, ref, Path(scratch))
        yield RefTree(ref, commit, Path(scratch) / _inside_work_tree(spec.path))


def _repository(directory: Path):
    import git

    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ResolutionError(
            f"{directory} is not in a git work tree: diff compares refs of a git repo "
            "(pass a clone, a bare repository, owner/name or git+URL)") from None
    # Explicit: a mirror whose config says it is not bare would have git look for it from its parent.
    repo.git.update_environment(GIT_DIR=str(repo.git_dir))
    return repo


def _inside_work_tree(directory: Path) -> Path:
    """Where the hub repo sits in its git tree: ``.`` for the top level or a bare repository itself."""
    repo = _repository(directory)
    if directory.resolve() == Path(repo.git_dir).resolve() or repo.working_tree_dir is None:
        return Path()
    return directory.resolve().relative_to(Path(repo.working_tree_dir).resolve())


# What the static model reads: sources and the configuration next to them. Weights and data stay out, which
# keeps the export small and lets a mirror that lacks its large blobs still be compared.
_STATIC_SUFFIXES = (".py", ".pyi", ".toml", ".cfg")


def _static_sources(repo, commit: str, inside: Path) -> list[str]:
    """The paths under ``inside`` at ``commit`` that static reading needs (see :data:`_STATIC_SUFFIXES`)."""
    listed = repo.git.ls_tree("-r", "--name-only", "-z", commit, "--", "." if str(inside) == "." else inside.as_posix())
    return [path for path in listed.split("\0") if path.endswith(_STATIC_SUFFIXES)]


def _export_local(directory: Path, ref: str, into: Path) -> str:
    """Unpack ``ref``'s files of the work tree holding ``directory`` into ``into``; return the commit."""
    import tarfile

    import git

    if not ref or ref.startswith("-"):
        raise ResolutionError(f"invalid ref {ref!r}; name a branch, tag or commit")
    repo = _repository(directory)
    try:
        commit = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except git.GitCommandError:
        raise ResolutionError(f"unknown ref {ref!r} in {repo.working_tree_dir}; name a branch, tag or commit "
                              "(`git tag`, `git branch -a` list them)") from None
    inside = _inside_work_tree(directory)
    sources = _static_sources(repo, commit, inside)
    if sources:  # none: the ref has no hubconf.py either, which the caller reports
        archive = io.BytesIO()
        try:
            repo.archive(archive, treeish=commit, format="tar", path=sources)
        except git.GitCommandError as error:
            message = (error.stderr or "").strip().splitlines()
            raise ResolutionError(f"could not export {ref!r}: {message[-1] if message else error}") from None
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extraction_filter = getattr(tarfile, "tar_filter", None)
            tar.extractall(into)  # noqa: S202 - a commit git exported, under tar_filter where it exists
    (into / inside).mkdir(parents=True, exist_ok=True)
    return commit


__all__ = ["RefTree", "ref_tree"]
