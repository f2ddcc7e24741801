"""Re-create the corpus trees under ``benchmarks/realworld/trees/`` from local git mirrors.

Each repo in ``repos.toml`` is exported at its pinned commit from a git directory found under
``--mirrors`` (default ``/work/.mirror``; layout ``<owner>+<name>/repo`` holding a bare repo or a
``.git``). Only the files static analysis reads are written (Python sources, text, config, notebooks),
blob by blob, so a mirror that lacks some large blobs still exports. Nothing here touches the network:
for a repo with no mirror it prints the ``git clone`` that would make one.

    python benchmarks/realworld/fetch.py            # export every repo whose tree is missing
    python benchmarks/realworld/fetch.py --force    # re-export all of them
    python benchmarks/realworld/fetch.py --only facebookresearch/dino
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
TREES = HERE / "trees"
EXPORTED = TREES / ".exported.json"
KEPT_SUFFIXES = frozenset(
    {
        ".py",
        ".pyi",
        ".md",
        ".rst",
        ".txt",
        ".toml",
        ".cfg",
        ".ini",
        ".ipynb",
        ".yaml",
        ".yml",
        ".json",
        ".sh",
        ".in",
    }
)
KEPT_NAMES = frozenset({"LICENSE", "Makefile", "Dockerfile"})
MAX_BLOB_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class CorpusRepo:
    name: str
    """owner/name as torch.hub users spell it."""
    source: str
    """owner/name of the snapshot the tree is exported from (a fork where the original is unavailable)."""
    commit: str
    why: tuple[str, ...]
    note: str
    validate_flags: tuple[str, ...]

    @property
    def tree_name(self) -> str:
        return self.name.replace("/", "__")


def load_corpus(path: Path = HERE / "repos.toml") -> list[CorpusRepo]:
    with path.open("rb") as handle:
        table = tomllib.load(handle)
    return [
        CorpusRepo(
            name=entry["name"],
            source=entry.get("source", entry["name"]),
            commit=entry["commit"],
            why=tuple(entry.get("why", ())),
            note=entry.get("note", ""),
            validate_flags=tuple(entry.get("validate_flags", ())),
        )
        for entry in table["repo"]
    ]


def find_git_dir(mirrors: Path, source: str) -> Path | None:
    base = mirrors / source.replace("/", "+") / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").is_file():
            return candidate
    return None


def _kept(path: str, size: int) -> bool:
    name = path.rsplit("/", 1)[-1]
    suffix = name[name.rfind(".") :] if "." in name else ""
    return size <= MAX_BLOB_BYTES and (suffix in KEPT_SUFFIXES or name in KEPT_NAMES)


def export_tree(git_dir: Path, commit: str, destination: Path) -> tuple[int, int]:
    """Write the kept files of ``commit`` into ``destination``; returns (written, missing blobs)."""
    listing = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-l", "-z", commit],
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    wanted: list[tuple[str, str, str]] = []
    absent_blobs = 0
    for row in filter(None, listing):
        meta, path_bytes = row.split(b"\t", 1)
        mode, kind, sha, size = meta.decode().split()
        path = path_bytes.decode("utf-8", "surrogateescape")
        if kind != "blob":
            continue
        if not size.isdigit():  # ls-tree prints BAD for a blob the mirror lacks
            absent_blobs += 1
        elif mode == "120000" or _kept(path, int(size)):
            wanted.append((mode, sha, path))
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    batch = subprocess.Popen(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert batch.stdin is not None and batch.stdout is not None
    written, missing = 0, absent_blobs
    for mode, sha, path in wanted:
        batch.stdin.write(sha.encode() + b"\n")
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if header[-1] == b"missing":
            missing += 1
            continue
        content = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)  # the newline after each object
        target = destination / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            target.symlink_to(content.decode("utf-8", "surrogateescape"))
        else:
            target.write_bytes(content)
        written += 1
    batch.stdin.close()
    batch.wait()
    return written, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument(
        "--force", action="store_true", help="re-export trees that already exist"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="owner/name to export (repeatable)"
    )
    args = parser.parse_args(argv)

    TREES.mkdir(exist_ok=True)
    exported: dict[str, str] = (
        json.loads(EXPORTED.read_text()) if EXPORTED.is_file() else {}
    )
    absent: list[CorpusRepo] = []
    for repo in load_corpus():
        if args.only and repo.name not in args.only:
            continue
        destination = TREES / repo.tree_name
        if (
            destination.is_dir()
            and exported.get(repo.name) == repo.commit
            and not args.force
        ):
            continue
        git_dir = find_git_dir(args.mirrors, repo.source)
        if git_dir is None:
            absent.append(repo)
            continue
        try:
            written, missing = export_tree(git_dir, repo.commit, destination)
        except subprocess.CalledProcessError as error:
            print(
                f"{repo.name}: cannot export {repo.commit[:12]} from {git_dir}: {error.stderr.decode().strip()}"
            )
            continue
        exported[repo.name] = repo.commit
        EXPORTED.write_text(json.dumps(exported, indent=1, sort_keys=True) + "\n")
        note = f", {missing} blobs absent from the mirror" if missing else ""
        print(f"{repo.name}: {written} files at {repo.commit[:12]}{note}")
    for repo in absent:
        print(
            f"{repo.name}: no mirror under {args.mirrors}; make one with "
            f"`git clone --mirror https://github.com/{repo.source} "
            f"{args.mirrors / repo.source.replace('/', '+') / 'repo'}` (commit {repo.commit})"
        )
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())
