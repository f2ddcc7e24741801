"""Turn REPO, the argument of every hubcheck command, into a directory to check.

REPO is one of:

* a local directory, used in place;
* ``owner/name[:ref]``, the GitHub shorthand that torch.hub takes;
* ``git+URL[@ref]``, pip's form for any git repository.

Git sources are fetched into a cache shared by every hubcheck process::

    <cache>/repos/<slug>-<sha256(url)[:16]>/
        .lock            held (flock) while the clone or a tree is being written
        git/             bare clone of the remote's branches and tags
        trees/<sha>/     the files of one commit, as a plain directory

A tree is keyed by its full commit SHA and a clone by its whole URL, so two
refs or two repos never share a folder (torch.hub's ``owner_name_ref`` folders
do: ``a/b:c/main`` and ``a/b_c:main`` collide). Once a tree exists, resolving
the same spec again reads only the local clone.

This module is imported on every CLI start, so GitPython (and tarfile, difflib)
are imported inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from hubcheck.errors import ResolutionError

GITHUB_URL_ENV = "HUBCHECK_GITHUB_URL"
"""Base URL the GitHub shorthand clones from (a mirror, GitHub Enterprise)."""

CACHE_ENV = "HUBCHECK_CACHE"
"""Directory that overrides the default cache location."""

_GITHUB_BASE = "https://github.com"
_GIT_SCHEMES = ("https", "http", "ssh", "git", "file")
_FORMS = (
    "REPO is a directory holding hubconf.py, owner/name[:ref] for a GitHub repo, "
    "or git+URL[@ref] for any git repo"
)
_NO_GIT = "git is not installed or not on PATH; install git to check remote repos"

# GitHub allows only [A-Za-z0-9-] in owners; '_' and '.' are accepted too for
# GitHub Enterprise and mirrors, which are laxer.
_GITHUB_RE = re.compile(
    r"(?P<owner>[A-Za-z0-9][\w.-]*)/(?P<name>[\w.-]+)(?::(?P<ref>.*))?", re.ASCII
)
# user@host:path, what `git clone` takes for ssh but pip and URL parsers do not.
_SCP_RE = re.compile(r"(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>[^/].*)", re.ASCII)
_HEX_RE = re.compile(r"[0-9a-f]{7,40}")
# The password in scheme://user:password@host, wherever a URL appears in text.
_PASSWORD_RE = re.compile(r"(://[^/@\s:]*):[^/@\s]*@")
# The parts of `git check-ref-format` that matter here: a ref starting with '-'
# would reach git as an option, and the rest can never name a real ref.
_BAD_REF_RE = re.compile(r"^[-/]|\.\.|@\{|[\x00-\x20\x7f~^:?*\[\\]|//|/$|\.$|\.lock$|^@$")
# Branches and tags only: a GitHub remote's refs/pull/* can be larger than the
# repo itself, and nothing here resolves pull requests.
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# Git lines that follow every transport failure and say nothing about its cause.
_GIT_BOILERPLATE = (
    "fatal: Could not read from remote repository.",
    "Please make sure you have the correct access rights",
    "and the repository exists.",
)


class SourceKind(str, enum.Enum):
    """Where a repo comes from."""

    LOCAL = "local"
    """A directory on this machine, checked in place."""
    GITHUB = "github"
    """GitHub shorthand owner/name[:ref], cloned from GitHub or $HUBCHECK_GITHUB_URL."""
    GIT = "git"
    """pip's git+URL[@ref], cloned from URL."""


@dataclasses.dataclass(frozen=True)
class RepoSpec:
    """What REPO asks for, before anything is fetched."""

    raw: str
    """The string the user gave."""
    kind: SourceKind
    """Which of the three forms it is."""
    path: Path | None
    """LOCAL: the absolute directory; None otherwise."""
    url: str | None
    """GITHUB/GIT: the URL git clones, without "git+" and "@ref"; None for LOCAL."""
    ref: str | None
    """The requested branch, tag or commit; None means the default branch."""
    owner: str | None
    """GITHUB: the owner; None otherwise."""
    name: str | None
    """GITHUB: the repository name; None otherwise."""


@dataclasses.dataclass(frozen=True)
class ResolvedRepo:
    """A spec turned into a directory that holds the repo's files."""

    spec: RepoSpec
    """What was asked for."""
    path: Path
    """Absolute directory holding the repo root (where hubconf.py belongs)."""
    commit: str | None
    """Full SHA of the files' commit; for LOCAL, HEAD's if the dir is a work tree's top level, else None."""
    ref: str | None
    """The ref that was resolved ("main" when the default branch was asked for); None for LOCAL."""
    dirty: bool | None
    """LOCAL git work trees: uncommitted or untracked changes present; None otherwise."""

    def describe(self) -> str:
        """One line naming the repo for reports, such as ``owner/name@main (3f2a9c1)``."""
        if self.spec.kind is SourceKind.LOCAL:
            if self.commit is None:
                return self.spec.raw
            return f"{self.spec.raw} ({self.commit[:7]}{', dirty' if self.dirty else ''})"
        if self.spec.kind is SourceKind.GITHUB:
            where = f"{self.spec.owner}/{self.spec.name}"
        else:
            where = _redact(self.spec.url or "")
        return f"{where}@{self.ref} ({(self.commit or '')[:7]})"

    def to_json(self) -> dict[str, object]:
        """The fields reports store, as JSON-ready values, with URL passwords masked."""
        return {
            "spec": _redact(self.spec.raw),
            "kind": self.spec.kind.value,
            "path": str(self.path),
            "url": _redact(self.spec.url) if self.spec.url else None,
            "ref": self.ref,
            "commit": self.commit,
            "dirty": self.dirty,
        }


def default_cache_dir() -> Path:
    """Where fetched repos are kept unless a caller passes ``cache_dir``.

    Returns:
        ``$HUBCHECK_CACHE`` if set, else ``$XDG_CACHE_HOME/hubcheck``, else
        ``~/.cache/hubcheck``.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "hubcheck"
    return Path.home() / ".cache" / "hubcheck"


def parse_spec(spec: str, *, cwd: Path | None = None) -> RepoSpec:
    """Read REPO without touching the network.

    An existing directory always wins over the GitHub shorthand, so a checkout
    at ``./owner/name`` is checked in place.

    Args:
        spec: REPO as the user wrote it.
        cwd: Directory that relative paths are read from; the process's by default.

    Returns:
        The parsed spec; a LOCAL spec's path is absolute and exists.

    Raises:
        ResolutionError: ``spec`` names no existing directory and is not a valid
            ``owner/name[:ref]`` or ``git+URL[@ref]``; the message says which forms work.
    """
    if not spec:
        raise ResolutionError(f"REPO is empty; {_FORMS}")
    if spec.startswith("git+"):
        return _parse_git_url(spec)
    path = _local_path(spec, cwd)
    if path is not None and path.is_dir():
        return RepoSpec(spec, SourceKind.LOCAL, path, None, None, None, None)
    if path is not None and path.exists():
        hint = f"; pass its directory: {path.parent}" if path.name == "hubconf.py" else ""
        raise ResolutionError(
            f"{spec} is a file, not a directory: REPO must be the directory that holds hubconf.py{hint}"
        )
    if "://" in spec:
        raise ResolutionError(_bare_url_message(spec))
    scp = _SCP_RE.fullmatch(spec)
    if scp:
        raise ResolutionError(
            f"REPO {spec!r} is an scp-style git address; write it as "
            f"git+ssh://{scp['user']}@{scp['host']}/{scp['path']}[@ref]"
        )
    # Only the part before ':' counts: a/b:feature/x is owner/name:ref.
    if spec.startswith((".", "/", "~")) or len(PurePosixPath(spec.split(":", 1)[0]).parts) > 2:
        raise ResolutionError(f"no such directory: {spec} ({_FORMS})")
    match = _GITHUB_RE.fullmatch(spec)
    if match is None or match["name"] in (".", ".."):
        raise ResolutionError(f"cannot read REPO {spec!r}: no such directory, and {_FORMS}")
    owner, name, ref = match["owner"], match["name"], match["ref"]
    if ref is not None:
        _check_ref(ref, spec, f"write {owner}/{name} for the default branch")
    base = (os.environ.get(GITHUB_URL_ENV) or _GITHUB_BASE).rstrip("/")
    url = f"{base}/{owner}/{name}.git"
    return RepoSpec(spec, SourceKind.GITHUB, None, url, ref, owner, name)


def resolve(
    spec: str | RepoSpec,
    *,
    refresh: bool = False,
    cache_dir: Path | None = None,
    cwd: Path | None = None,
) -> ResolvedRepo:
    """Make the repo's files available as a directory.

    LOCAL directories are used in place. Git sources are cloned into the cache
    on first use; later calls resolve the ref against that clone and reuse the
    tree of its commit without fetching. A ref the clone does not know is
    fetched once before it is reported unknown. Safe to call from many
    processes at once.

    This does not check that hubconf.py exists; see :func:`require_hubconf`.

    Args:
        spec: REPO as a string, or an already parsed spec.
        refresh: Fetch from the remote before resolving the ref, so a branch
            picks up commits pushed since the last fetch.
        cache_dir: Cache root; :func:`default_cache_dir` by default.
        cwd: Directory that relative paths in a string ``spec`` are read from.

    Returns:
        The directory and the commit it holds.

    Raises:
        ResolutionError: the spec is invalid, the clone or fetch failed, the
            ref is unknown or ambiguous, the repo has no commits, git is not
            installed, or the cache is not writable.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec, cwd=cwd)
    if spec.kind is SourceKind.LOCAL:
        return _resolve_local(spec)
    cache = (cache_dir if cache_dir is not None else default_cache_dir()).expanduser().absolute()
    return _resolve_git(spec, cache / "repos" / _cache_key(spec.url or ""), refresh)


def require_hubconf(repo: ResolvedRepo) -> Path:
    """Find the hubconf.py that torch.hub would import.

    Args:
        repo: A resolved repo.

    Returns:
        ``repo.path / "hubconf.py"``, a readable file.

    Raises:
        ResolutionError: hubconf.py is missing, not a regular file (a directory, FIFO, device, broken
            link or link loop) or unreadable.
    """
    from hubcheck.static.source import SourceProblemKind, file_problem

    hubconf = repo.path / "hubconf.py"
    problem = file_problem(hubconf)
    if problem is not None and problem.kind is SourceProblemKind.MISSING:
        raise ResolutionError(
            f"no hubconf.py in {repo.path}: not a PyTorch Hub repo "
            "(torch.hub needs hubconf.py at the repo root)"
        )
    if problem is not None:
        raise ResolutionError(
            f"{hubconf} {problem.reason}; torch.hub needs hubconf.py to be a regular Python file at the repo root"
        )
    try:
        with open(hubconf, "rb"):
            pass
    except OSError as exc:
        raise ResolutionError(f"cannot read {hubconf}: {exc.strerror}; fix its permissions") from exc
    return hubconf


# -- parsing -------------------------------------------------------------------


def _local_path(spec: str, cwd: Path | None) -> Path | None:
    """The absolute path ``spec`` would name, or None if it cannot name one."""
    try:
        path = Path(spec).expanduser()
        return (path if path.is_absolute() else (cwd or Path.cwd()) / path).resolve()
    except (RuntimeError, ValueError):  # ~user for an unknown user; a NUL byte
        return None


def _parse_git_url(spec: str) -> RepoSpec:
    """Parse pip's ``git+URL[@ref]``: only an '@' in the path starts the ref."""
    try:
        parts = urlsplit(spec[len("git+"):])
    except ValueError as exc:  # a malformed [IPv6] host
        raise ResolutionError(f"REPO {_redact(spec)!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in _GIT_SCHEMES:
        raise ResolutionError(
            f"REPO {_redact(spec)!r} has an unsupported scheme; use "
            + ", ".join(f"git+{scheme}://" for scheme in _GIT_SCHEMES)
        )
    if parts.fragment:
        raise ResolutionError(
            f"REPO {_redact(spec)!r} has a '#{parts.fragment}' fragment, which hubcheck does not use; remove it"
        )
    if parts.scheme != "file" and not parts.netloc:
        raise ResolutionError(f"REPO {_redact(spec)!r} has no host; write git+{parts.scheme}://HOST/PATH[@ref]")
    path, ref = parts.path, None
    if "@" in path:
        path, ref = path.rsplit("@", 1)
        _check_ref(ref, _redact(spec), "drop the '@' for the default branch")
    if path.strip("/") == "":
        raise ResolutionError(f"REPO {_redact(spec)!r} names no repository; add its path to the URL")
    url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    return RepoSpec(spec, SourceKind.GIT, None, url, ref, None, None)


def _check_ref(ref: str, spec: str, empty_hint: str) -> None:
    """Reject refs that git could never resolve, or could read as an option."""
    if not ref:
        raise ResolutionError(f"REPO {spec!r} has an empty ref; {empty_hint}, or name a branch, tag or commit")
    if _BAD_REF_RE.search(ref):
        raise ResolutionError(f"REPO {spec!r} has an invalid ref {ref!r}; name a branch, tag or commit")


def _bare_url_message(spec: str) -> str:
    """Explain that URLs need pip's git+ prefix, with the shorthand if it applies."""
    try:
        parts = urlsplit(spec)
    except ValueError:  # a malformed [IPv6] host; the generic advice still holds
        parts = urlsplit("")
    suggestions = f"write git+{_redact(spec)} to clone it with git (add @REF for a branch, tag or commit)"
    segments = [s for s in parts.path.split("/") if s]
    if parts.hostname == "github.com" and len(segments) == 2:
        shorthand = f"{segments[0]}/{segments[1].removesuffix('.git')}"
        suggestions += f", or {shorthand} for the GitHub shorthand"
    else:
        suggestions += ", or owner/name[:ref] for a GitHub repo"
    return f"REPO {_redact(spec)!r} is a URL; {suggestions}"


def _redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ***.

    CI jobs put tokens in clone URLs (https://x-access-token:TOKEN@host/...);
    reports and error messages are uploaded and must not carry them. A regex,
    not a URL parser, so that malformed URLs and git's messages are covered too.
    """
    return _PASSWORD_RE.sub(r"\1:***@", text)


# -- local directories ---------------------------------------------------------


def _resolve_local(spec: RepoSpec) -> ResolvedRepo:
    path = spec.path
    assert path is not None, "LOCAL specs always have a path"
    commit = dirty = None
    # Checked before git is run (or GitPython imported) so that static commands
    # on a plain directory stay fast; a .git here also means `path` is the top
    # level of its work tree, not a folder inside someone else's repo.
    if (path / ".git").exists():
        commit, dirty = _work_tree_state(path)
    return ResolvedRepo(spec, path, commit, None, dirty)


def _work_tree_state(path: Path) -> tuple[str | None, bool | None]:
    """HEAD's SHA and whether there are changes; (None, None) if git cannot tell.

    The commit is report metadata, so a directory git refuses to read (a
    "dubious ownership" mount in a CI container, a broken .git) or a machine
    without git still resolves: only the metadata is missing.
    """
    # --git-dir/--work-tree override a GIT_DIR inherited from a git hook.
    where = (f"--git-dir={path / '.git'}", f"--work-tree={path}", "--no-optional-locks")
    try:
        status, head, _ = _git(*where, "rev-parse", "--verify", "--quiet", "HEAD")
        if status not in (0, 1):
            return None, None
        status, changes, _ = _git(*where, "status", "--porcelain")
    except ResolutionError:  # git is not installed
        return None, None
    if status != 0:
        return None, None
    return (head or None), bool(changes)


# -- git sources ---------------------------------------------------------------


def _resolve_git(spec: RepoSpec, repo_dir: Path, refresh: bool) -> ResolvedRepo:
    mirror = repo_dir / "git"
    fetched = _ensure_mirror(spec, repo_dir, refresh)
    try:
        commit, ref = _resolve_ref(spec, mirror)
    except ResolutionError as stale:
        if fetched:
            raise
        # The clone can only be stale, never wrong: a ref or commit it does not
        # know may have been pushed since, so fetch once before giving up.
        try:
            with _locked(repo_dir):
                _fetch(spec, mirror, "fetch")
        except ResolutionError as offline:
            raise ResolutionError(f"{stale}; {offline}") from offline
        commit, ref = _resolve_ref(spec, mirror)
    tree = _ensure_tree(spec, repo_dir, commit)
    return ResolvedRepo(spec, tree, commit, ref, None)


def _ensure_mirror(spec: RepoSpec, repo_dir: Path, refresh: bool) -> bool:
    """Make sure the bare clone exists; return whether it was fetched just now."""
    mirror = repo_dir / "git"
    if mirror.is_dir() and not refresh:
        return False
    with _locked(repo_dir):
        if not mirror.is_dir():
            _clone(spec, mirror)
        elif refresh:
            _fetch(spec, mirror, "fetch")
    return True


def _clone(spec: RepoSpec, mirror: Path) -> None:
    """Clone into a sibling and rename it into place, so ``git/`` is always whole."""
    partial = mirror.with_name(".git.partial")
    try:
        if partial.exists():  # left by a process that was killed mid-clone
            shutil.rmtree(partial)
        _git_checked("init", "--bare", "--quiet", git_dir=partial, doing=f"create a clone in {partial}")
        _fetch(spec, partial, "clone")
        partial.rename(mirror)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ResolutionError(f"could not write the clone at {mirror}: {exc}") from exc
    except BaseException:
        # The error being raised is the one to report; a leftover that cannot be
        # removed now is removed by the next clone, above.
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _fetch(spec: RepoSpec, git_dir: Path, verb: str) -> None:
    """Fetch all branches and tags, pruning deleted ones, and the default branch.

    The URL is given on every fetch instead of being stored as a remote, so a
    token in it is never written to the cache and a fresh one works next time.
    """
    url = spec.url or ""
    status, out, err = _git("ls-remote", "--symref", "--", url, "HEAD", git_dir=git_dir)
    if status == 0:
        status, _, err = _git("fetch", "--prune", "--quiet", "--", url, *_REFSPECS, git_dir=git_dir)
    if status != 0:
        message = f"could not {verb} {_redact(url)}: {_redact(_git_error_line(err))}"
        if spec.kind is SourceKind.GITHUB:
            message += (
                f" ({spec.raw!r} was read as the GitHub repo {spec.owner}/{spec.name} "
                "because no such directory exists)"
            )
        raise ResolutionError(message)
    # An empty remote reports no HEAD; the clone's own HEAD then points at a
    # branch that does not exist, which _resolve_ref reports as "no commits".
    for line in out.splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
            head = line[len("ref: "):-len("\tHEAD")]
            doing = f"record the default branch of {_redact(url)}"
            _git_checked("symbolic-ref", "HEAD", head, git_dir=git_dir, doing=doing)


def _resolve_ref(spec: RepoSpec, mirror: Path) -> tuple[str, str]:
    """The commit SHA that ``spec.ref`` names in the clone, and the ref's name."""
    url = _redact(spec.url or "")
    listing = _git_checked(
        "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", "refs/heads", "refs/tags",
        git_dir=mirror, doing=f"read the cached clone of {url} at {mirror} (delete it to start over)",
    )
    refs: dict[str, str] = {}
    for line in listing.splitlines():
        name, sha, peeled = line.split(" ")
        refs[name] = peeled or sha  # an annotated tag names the commit it points at
    if not refs:
        raise ResolutionError(f"{url} has no commits yet; push a commit, then check it")
    ref = spec.ref
    if ref is None:
        head = (mirror / "HEAD").read_text(encoding="utf-8").strip().removeprefix("ref: ")
        if head not in refs:
            raise ResolutionError(
                f"the default branch of {url} ({head.removeprefix('refs/heads/')}) has no commits; "
                f"name one of its branches or tags: {_ref_list(refs, '')}"
            )
        return refs[head], head.removeprefix("refs/heads/")
    if ref in refs:  # refs/heads/X or refs/tags/X, written out to avoid ambiguity
        return refs[ref], ref
    branch, tag = refs.get(f"refs/heads/{ref}"), refs.get(f"refs/tags/{ref}")
    if branch and tag and branch != tag:
        raise ResolutionError(
            f"ref {ref!r} is both a branch and a tag in {url}; write refs/heads/{ref} or refs/tags/{ref}"
        )
    if branch or tag:
        return branch or tag or "", ref
    # Names first, as git does: a hex string is a commit only if no ref has that name.
    if _HEX_RE.fullmatch(ref):
        status, sha, err = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", git_dir=mirror)
        if status == 0:
            return sha, ref
        if "ambiguous" in err:
            raise ResolutionError(f"commit {ref!r} is ambiguous in {url}; give more of its SHA")
    raise ResolutionError(f"unknown ref {ref!r} in {url}; existing branches and tags: {_ref_list(refs, ref)}")


def _ref_list(refs: dict[str, str], near: str, limit: int = 10) -> str:
    """Up to ``limit`` branch and tag names, the ones closest to ``near`` first."""
    import difflib

    names = sorted({name.split("/", 2)[2] for name in refs})
    close = difflib.get_close_matches(near, names, n=limit, cutoff=0.5) if near else []
    shown = (close + [name for name in names if name not in close])[:limit]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return ", ".join(shown) + more


def _ensure_tree(spec: RepoSpec, repo_dir: Path, commit: str) -> Path:
    """The directory holding ``commit``'s files, exported on first use.

    ``git archive`` is the export because GitHub builds the zip that torch.hub
    downloads the same way: export-ignore and export-subst attributes apply,
    submodules are left out, and the result is a plain directory with no .git
    that ties it to the clone. It never touches the clone (no index, no
    worktree entries), so reading the clone needs no lock.
    """
    import tarfile

    tree = repo_dir / "trees" / commit
    if tree.is_dir():
        return tree
    with _locked(repo_dir):
        if tree.is_dir():  # made by another process while this one waited
            return tree
        partial = tree.with_name(f".{commit}.partial")
        archive = tree.with_name(f".{commit}.tar")
        try:
            if partial.exists():  # left by a process that was killed mid-export
                shutil.rmtree(partial)
            partial.mkdir(parents=True)
            _git_checked(
                "archive", "--format=tar", f"--output={archive}", commit,
                git_dir=repo_dir / "git", doing=f"export commit {commit} of {_redact(spec.url or '')}",
            )
            with tarfile.open(archive) as tar:
                # "tar", not Python 3.14's default "data": the latter refuses the
                # absolute symlinks that a git checkout would create.
                tar.extraction_filter = getattr(tarfile, "tar_filter", None)
                tar.extractall(partial)  # noqa: S202 - a commit git exported, under tar_filter where it exists
            partial.rename(tree)
        except (OSError, tarfile.TarError) as exc:
            raise ResolutionError(f"could not write commit {commit} to {tree}: {exc}") from exc
        finally:
            archive.unlink(missing_ok=True)
            shutil.rmtree(partial, ignore_errors=True)  # only left on failure
    return tree


# -- cache and git plumbing ----------------------------------------------------


def _cache_key(url: str) -> str:
    """A folder name that is readable and unique per URL.

    The password is left out, so a CI token that changes on every run still
    finds yesterday's clone.
    """
    url = _redact(url)
    tail = [part.removesuffix(".git") for part in url.rstrip("/").split("/")[-2:]]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(tail)).strip("-.")[:48] or "repo"
    return f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:16]}"


@contextmanager
def _locked(repo_dir: Path) -> Iterator[None]:
    """Hold the repo folder's exclusive lock; only one process writes it at a time."""
    import fcntl

    try:
        repo_dir.mkdir(parents=True, exist_ok=True)
        lock = open(repo_dir / ".lock", "a")  # noqa: SIM115 - a with below, once the error is reported
    except OSError as exc:
        raise ResolutionError(
            f"cannot write the hubcheck cache at {repo_dir}: {exc.strerror}; "
            f"set {CACHE_ENV} to a writable directory"
        ) from exc
    # The lock goes with the file descriptor, so it is released however this
    # process ends; the .lock file itself is never deleted, so every process
    # locks the same inode.
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _git(*args: str, git_dir: Path | None = None) -> tuple[int, str, str]:
    """Run git and return (status, stdout, stderr); never raises for git's failures."""
    try:
        import git
    except ModuleNotFoundError as exc:
        if exc.name != "git":
            raise
        raise ResolutionError("GitPython is not installed; reinstall hubcheck, which depends on it") from exc
    except ImportError as exc:  # GitPython checks at import that a git executable exists
        raise ResolutionError(_NO_GIT) from exc
    argv = [git.Git.GIT_PYTHON_GIT_EXECUTABLE]
    if git_dir is not None:
        # Explicit, so a GIT_DIR inherited from a git hook cannot redirect it.
        argv.append(f"--git-dir={git_dir}")
    try:
        return git.Git().execute(
            [*argv, *args],
            with_extended_output=True,
            with_exceptions=False,
            # A credential prompt would hang a CI job; fail and report instead.
            env={"GIT_TERMINAL_PROMPT": "0"},
        )
    except git.GitCommandNotFound as exc:
        raise ResolutionError(_NO_GIT) from exc


def _git_checked(*args: str, git_dir: Path | None = None, doing: str) -> str:
    """Run git and return its stdout; a failure becomes "could not <doing>: <why>"."""
    status, out, err = _git(*args, git_dir=git_dir)
    if status != 0:
        raise ResolutionError(f"could not {doing}: {_git_error_line(err)}")
    return out


def _git_error_line(stderr: str) -> str:
    """The last line of git's stderr that says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines()]
    meaningful = [line for line in lines if line and not line.startswith(_GIT_BOILERPLATE)]
    if not meaningful:
        return "git failed without saying why"
    return meaningful[-1].removeprefix("fatal: ").removeprefix("error: ")

