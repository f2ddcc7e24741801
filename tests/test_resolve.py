"""Tests for hubcheck.resolve, against real git repos made in tmp_path (no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from hubcheck.errors import ResolutionError
from hubcheck.resolve import (
    RepoSpec,
    ResolvedRepo,
    SourceKind,
    default_cache_dir,
    parse_spec,
    require_hubconf,
    resolve,
)

ACTOR = git.Actor("Hub Check", "hubcheck@example.com")


def commit(repo: git.Repo, files: dict[str, str], message: str = "change") -> str:
    """Write ``files`` into the work tree of ``repo``, commit them, return the SHA."""
    for name, text in files.items():
        path = Path(repo.working_tree_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        repo.index.add([name])
    return repo.index.commit(message, author=ACTOR, committer=ACTOR).hexsha


def init_repo(path: Path, branch: str = "main") -> git.Repo:
    repo = git.Repo.init(path, initial_branch=branch)
    with repo.config_writer() as config:  # annotated tags need an identity
        config.set_value("user", "name", ACTOR.name)
        config.set_value("user", "email", ACTOR.email)
    return repo


def hubconf(label: str) -> dict[str, str]:
    return {"hubconf.py": f"# {label}\ndependencies = []\n"}


def assert_user_error(exc: pytest.ExceptionInfo[ResolutionError], *fragments: str) -> str:
    """The message is one line and contains every fragment (what is wrong, what to do)."""
    message = str(exc.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@dataclass
class Source:
    """A git repo to clone: commits c1 (tagged v1), c2 (main, tagged v2) and c3 (dev)."""

    repo: git.Repo
    path: Path
    url: str
    c1: str
    c2: str
    c3: str


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("HUBCHECK_CACHE", str(path))
    return path


@pytest.fixture
def source(tmp_path: Path) -> Source:
    path = tmp_path / "src"
    repo = init_repo(path)
    c1 = commit(repo, {**hubconf("c1"), "models/net.py": "X = 1\n"}, "c1")
    repo.create_tag("v1")
    c2 = commit(repo, hubconf("c2"), "c2")
    repo.create_tag("v2", message="annotated")
    repo.create_head("dev").checkout()
    c3 = commit(repo, hubconf("c3"), "c3")
    repo.heads.main.checkout()
    return Source(repo, path, f"git+{path.as_uri()}", c1, c2, c3)


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for GitHub: owner/name lives at <mirror>/owner/name.git."""
    path = tmp_path / "mirror"
    path.mkdir()
    monkeypatch.setenv("HUBCHECK_GITHUB_URL", path.as_uri())
    return path


def publish(source_path: Path, mirror: Path, owner: str, name: str) -> Path:
    bare = mirror / owner / f"{name}.git"
    git.Repo.clone_from(source_path, bare, bare=True)
    return bare


# -- parse_spec ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind", "url", "ref", "owner", "name"),
    [
        ("owner/name", SourceKind.GITHUB, "https://github.com/owner/name.git", None, "owner", "name"),
        ("owner/name:dev", SourceKind.GITHUB, "https://github.com/owner/name.git", "dev", "owner", "name"),
        ("a/b:c/main", SourceKind.GITHUB, "https://github.com/a/b.git", "c/main", "a", "b"),
        ("my-org/net.v2_x:v1.0", SourceKind.GITHUB, "https://github.com/my-org/net.v2_x.git", "v1.0", "my-org", "net.v2_x"),
        ("git+https://host/o/n.git@main", SourceKind.GIT, "https://host/o/n.git", "main", None, None),
        ("git+https://host/o/n.git", SourceKind.GIT, "https://host/o/n.git", None, None, None),
        ("git+ssh://git@host/o/n.git@v2", SourceKind.GIT, "ssh://git@host/o/n.git", "v2", None, None),
        ("git+ssh://git@host/o/n.git", SourceKind.GIT, "ssh://git@host/o/n.git", None, None, None),
        ("git+file:///abs/path@v1", SourceKind.GIT, "file:///abs/path", "v1", None, None),
        ("git+https://host/o/n.git@feature/x", SourceKind.GIT, "https://host/o/n.git", "feature/x", None, None),
        ("git+https://host/o/n.git@refs/tags/v1", SourceKind.GIT, "https://host/o/n.git", "refs/tags/v1", None, None),
        ("git+http://host:8080/o/n@3f2a9c1", SourceKind.GIT, "http://host:8080/o/n", "3f2a9c1", None, None),
    ],
)
def test_parse_spec_remote_forms(
    spec: str, kind: SourceKind, url: str, ref: str | None, owner: str | None, name: str | None,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUBCHECK_GITHUB_URL", raising=False)
    assert parse_spec(spec, cwd=tmp_path) == RepoSpec(spec, kind, None, url, ref, owner, name)


def test_parse_spec_github_base_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBCHECK_GITHUB_URL", "https://ghe.example.com/")
    assert parse_spec("owner/name", cwd=tmp_path).url == "https://ghe.example.com/owner/name.git"


def test_parse_spec_local_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "work" / "repo"
    repo.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path))
    for spec, cwd in [
        ("repo", tmp_path / "work"),
        ("./repo", tmp_path / "work"),
        ("../repo", repo),
        ("work/repo", tmp_path),  # two parts, like owner/name, but it exists
        (str(repo), None),
        ("~/work/repo", None),
    ]:
        parsed = parse_spec(spec, cwd=cwd)
        assert parsed == RepoSpec(spec, SourceKind.LOCAL, repo, None, None, None, None), spec


def test_parse_spec_defaults_to_process_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_spec(".").path == tmp_path


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("", ["REPO is empty", "owner/name[:ref]", "git+URL[@ref]"]),
        ("a/b/c", ["no such directory: a/b/c", "owner/name[:ref]"]),
        ("a:b", ["cannot read REPO 'a:b'", "owner/name[:ref]", "git+URL[@ref]"]),
        ("justaword", ["cannot read REPO 'justaword'", "owner/name[:ref]"]),
        ("owner/name:", ["empty ref", "write owner/name for the default branch"]),
        ("owner/name:a..b", ["invalid ref 'a..b'", "name a branch, tag or commit"]),
        ("owner/name:-n", ["invalid ref '-n'"]),
        ("./missing", ["no such directory: ./missing"]),
        ("../missing/repo", ["no such directory: ../missing/repo"]),
        ("/hubcheck-no-such-dir/x", ["no such directory: /hubcheck-no-such-dir/x"]),
        ("~/missing", ["no such directory: ~/missing"]),
        ("https://github.com/o/n", ["is a URL", "git+https://github.com/o/n", "o/n for the GitHub shorthand"]),
        ("https://gitlab.com/o/n.git", ["is a URL", "git+https://gitlab.com/o/n.git", "owner/name[:ref]"]),
        ("git@github.com:o/n.git", ["scp-style", "git+ssh://git@github.com/o/n.git[@ref]"]),
        ("git+ftp://host/o/n", ["unsupported scheme", "git+https://", "git+file://"]),
        ("git+https:///o/n", ["has no host", "git+https://HOST/PATH"]),
        ("git+https://host", ["names no repository", "add its path"]),
        ("git+https://host/o/n.git@", ["empty ref", "drop the '@'"]),
        ("git+https://host/o/n.git@-x", ["invalid ref '-x'"]),
        ("git+https://host/o/n.git#egg=n", ["'#egg=n' fragment", "remove it"]),
        ("git+https://[bad/o/n", ["not a valid URL"]),
        ("git+https://user:s3cret@host/o/n.git#x", ["user:***@host"]),
    ],
)
def test_parse_spec_errors(
    spec: str, fragments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ResolutionError) as exc:
        parse_spec(spec, cwd=tmp_path)
    assert "s3cret" not in assert_user_error(exc, *fragments)


def test_parse_spec_file_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "hubconf.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(ResolutionError) as exc:
        parse_spec("hubconf.py", cwd=tmp_path)
    assert_user_error(exc, "is a file, not a directory", f"pass its directory: {tmp_path}")
    with pytest.raises(ResolutionError) as exc:
        parse_spec("notes.txt", cwd=tmp_path)
    assert_user_error(exc, "notes.txt is a file", "the directory that holds hubconf.py")


# -- local directories -----------------------------------------------------------


def test_local_plain_directory(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    resolved = resolve("repo", cwd=tmp_path)
    assert resolved == ResolvedRepo(resolved.spec, tmp_path / "repo", None, None, None)
    assert resolved.describe() == "repo"
    assert resolved.to_json() == {
        "spec": "repo", "kind": "local", "path": str(tmp_path / "repo"),
        "url": None, "ref": None, "commit": None, "dirty": None,
    }


def test_local_git_work_tree(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, hubconf("local"))
    clean = resolve(str(tmp_path / "repo"))
    assert (clean.commit, clean.dirty) == (sha, False)
    assert clean.describe() == f"{tmp_path / 'repo'} ({sha[:7]})"

    (tmp_path / "repo" / "untracked.py").write_text("")
    assert resolve(str(tmp_path / "repo")).dirty is True
    (tmp_path / "repo" / "untracked.py").unlink()
    (tmp_path / "repo" / "hubconf.py").write_text("# edited\n")
    edited = resolve(str(tmp_path / "repo"))
    assert (edited.commit, edited.dirty) == (sha, True)
    assert edited.describe().endswith(f"({sha[:7]}, dirty)")


def test_local_git_repo_without_commits(tmp_path: Path) -> None:
    init_repo(tmp_path / "repo")
    resolved = resolve(str(tmp_path / "repo"))
    assert resolved.commit is None
    assert resolved.dirty is False


def test_local_directory_inside_a_repo_is_not_its_top_level(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    commit(repo, {"sub/hubconf.py": ""})
    resolved = resolve(str(tmp_path / "repo" / "sub"))
    assert (resolved.commit, resolved.dirty) == (None, None)


# -- git sources -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected", "resolved_ref"),
    [
        (None, "c2", "main"),
        ("main", "c2", "main"),
        ("dev", "c3", "dev"),
        ("v1", "c1", "v1"),
        ("v2", "c2", "v2"),  # annotated: resolves to the commit, not the tag object
        ("refs/heads/dev", "c3", "refs/heads/dev"),
        ("refs/tags/v1", "c1", "refs/tags/v1"),
        ("full:c1", "c1", None),
        ("short:c3", "c3", None),
    ],
)
def test_git_url_refs(
    ref: str | None, expected: str, resolved_ref: str | None, source: Source, cache: Path
) -> None:
    sha = getattr(source, expected)
    if ref and ref.startswith("full:"):
        ref = getattr(source, ref[5:])
    elif ref and ref.startswith("short:"):
        ref = getattr(source, ref[6:])[:7]
    spec = source.url if ref is None else f"{source.url}@{ref}"

    resolved = resolve(spec)

    assert resolved.commit == sha
    assert resolved.ref == (resolved_ref or ref)
    assert resolved.dirty is None
    assert resolved.path.parent.parent.parent == cache / "repos"
    assert resolved.path.name == sha
    assert (resolved.path / "hubconf.py").read_text().startswith(f"# {expected}\n")
    assert (resolved.path / "models" / "net.py").is_file()
    assert not (resolved.path / ".git").exists()
    assert resolved.describe() == f"{source.url[4:]}@{resolved.ref} ({sha[:7]})"


def test_default_branch_not_named_main(tmp_path: Path, cache: Path) -> None:
    repo = init_repo(tmp_path / "src", branch="trunk")
    sha = commit(repo, hubconf("trunk"))
    repo.create_head("main")  # a main that is not the default must not be picked
    commit(repo, {"other.py": ""})
    resolved = resolve(f"git+{(tmp_path / 'src').as_uri()}")
    assert resolved.ref == "trunk"
    assert resolved.commit == repo.heads.trunk.commit.hexsha != sha


def test_export_follows_git_archive_attributes(tmp_path: Path, cache: Path) -> None:
    # GitHub builds torch.hub's zip with git archive, so export-ignore applies there too.
    repo = init_repo(tmp_path / "src")
    commit(repo, {**hubconf("x"), ".gitattributes": "tests/ export-ignore\n", "tests/t.py": ""})
    resolved = resolve(f"git+{(tmp_path / 'src').as_uri()}")
    assert (resolved.path / "hubconf.py").is_file()
    assert not (resolved.path / "tests").exists()


def test_github_shorthand(source: Source, mirror: Path, cache: Path) -> None:
    publish(source.path, mirror, "owner", "name")

    default = resolve("owner/name")
    assert default.spec.kind is SourceKind.GITHUB
    assert default.spec.url == f"{mirror.as_uri()}/owner/name.git"
    assert (default.commit, default.ref) == (source.c2, "main")
    assert default.describe() == f"owner/name@main ({source.c2[:7]})"
    assert default.to_json() == {
        "spec": "owner/name", "kind": "github", "path": str(default.path),
        "url": f"{mirror.as_uri()}/owner/name.git", "ref": "main", "commit": source.c2, "dirty": None,
    }
    tagged = resolve("owner/name:v1")
    assert (tagged.commit, tagged.ref) == (source.c1, "v1")
    assert (tagged.path / "hubconf.py").read_text().startswith("# c1\n")


def test_existing_directory_wins_over_shorthand(source: Source, mirror: Path, cache: Path, tmp_path: Path) -> None:
    publish(source.path, mirror, "owner", "name")
    (tmp_path / "here" / "owner" / "name").mkdir(parents=True)
    resolved = resolve("owner/name", cwd=tmp_path / "here")
    assert resolved.spec.kind is SourceKind.LOCAL
    assert resolved.path == tmp_path / "here" / "owner" / "name"
    assert not cache.exists()


def test_resolve_accepts_a_parsed_spec_and_a_cache_dir(source: Source, tmp_path: Path) -> None:
    resolved = resolve(parse_spec(f"{source.url}@v1"), cache_dir=tmp_path / "elsewhere")
    assert resolved.path.is_relative_to(tmp_path / "elsewhere" / "repos")


# -- the cache -------------------------------------------------------------------


def test_second_resolve_does_not_fetch(source: Source, cache: Path, tmp_path: Path) -> None:
    first = {spec: resolve(spec) for spec in (source.url, f"{source.url}@dev", f"{source.url}@{source.c1[:9]}")}
    source.path.rename(tmp_path / "gone")  # any fetch or clone would now fail
    for spec, resolved in first.items():
        assert resolve(spec) == resolved


def test_refresh_fetches_new_commits(source: Source, cache: Path) -> None:
    before = resolve(source.url)
    newer = commit(source.repo, hubconf("c4"))

    assert resolve(source.url) == before  # cached: main is where the last fetch left it
    after = resolve(source.url, refresh=True)
    assert after.commit == newer != before.commit
    assert after.path != before.path
    assert (after.path / "hubconf.py").read_text().startswith("# c4\n")
    assert (before.path / "hubconf.py").read_text().startswith("# c2\n")


def test_ref_unknown_to_the_cache_is_fetched_once(source: Source, cache: Path) -> None:
    resolve(source.url)
    source.repo.create_head("late", source.c1)
    assert resolve(f"{source.url}@late").commit == source.c1


def test_refs_and_colliding_torch_hub_names_get_their_own_trees(
    tmp_path: Path, mirror: Path, cache: Path
) -> None:
    # torch.hub caches both in <hub>/a_b_c_main.
    first = init_repo(tmp_path / "first")
    commit(first, hubconf("a/b"))
    first.create_head("c/main").checkout()
    commit(first, hubconf("a/b at c/main"))
    first.heads.main.checkout()
    second = init_repo(tmp_path / "second")
    commit(second, hubconf("a/b_c"))
    publish(tmp_path / "first", mirror, "a", "b")
    publish(tmp_path / "second", mirror, "a", "b_c")

    slash = resolve("a/b:c/main")
    underscore = resolve("a/b_c:main")
    default = resolve("a/b")

    assert len({slash.path, underscore.path, default.path}) == 3
    assert (slash.path / "hubconf.py").read_text().startswith("# a/b at c/main\n")
    assert (underscore.path / "hubconf.py").read_text().startswith("# a/b_c\n")
    assert slash.path.parent.parent != underscore.path.parent.parent  # one clone per URL


def test_concurrent_first_resolves_share_one_complete_tree(source: Source, cache: Path, tmp_path: Path) -> None:
    worker = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from hubcheck.resolve import resolve\n"
        "Path(sys.argv[2]).touch()\n"
        "while not Path(sys.argv[3]).exists():\n"
        "    time.sleep(0.001)\n"
        "print(json.dumps(resolve(sys.argv[1]).to_json()))\n"
    )
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", worker, f"{source.url}@dev", str(flag), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 30
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # all four start resolving at the same moment
    results = [proc.communicate(timeout=60) for proc in procs]

    assert [proc.returncode for proc in procs] == [0] * 4, [err for _, err in results]
    paths = {json.loads(out)["path"] for out, _ in results}
    assert len(paths) == 1
    tree = Path(paths.pop())
    expected = set(source.repo.git.ls_tree("-r", "--name-only", source.c3).splitlines())
    assert {str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()} == expected
    repo_dir = tree.parent.parent
    assert sorted(p.name for p in repo_dir.iterdir()) == [".lock", "git", "trees"]
    assert [p.name for p in (repo_dir / "trees").iterdir()] == [source.c3]


# -- errors from git sources -----------------------------------------------------


def test_unknown_ref_lists_close_matches_first(source: Source, cache: Path) -> None:
    with pytest.raises(ResolutionError) as exc:
        resolve(f"{source.url}@dve")
    message = assert_user_error(exc, "unknown ref 'dve'", source.url[4:], "dev", "main", "v1", "v2")
    assert message.index("dev") < message.index("main")


def test_unknown_ref_lists_at_most_ten(source: Source, cache: Path) -> None:
    for i in range(12):
        source.repo.create_head(f"feature-{i:02d}")
    with pytest.raises(ResolutionError) as exc:
        resolve(f"{source.url}@nope")
    assert_user_error(exc, "unknown ref 'nope'", "and 6 more")


def test_ref_that_is_both_a_branch_and_a_tag(source: Source, cache: Path) -> None:
    source.repo.create_head("v1", source.c3)  # tag v1 is c1
    with pytest.raises(ResolutionError) as exc:
        resolve(f"{source.url}@v1")
    assert_user_error(exc, "ref 'v1' is both a branch and a tag", "refs/heads/v1 or refs/tags/v1")
    assert resolve(f"{source.url}@refs/heads/v1").commit == source.c3
    assert resolve(f"{source.url}@refs/tags/v1").commit == source.c1


def test_branch_and_tag_on_the_same_commit_are_not_ambiguous(source: Source, cache: Path) -> None:
    source.repo.create_head("v1", source.c1)
    assert resolve(f"{source.url}@v1").commit == source.c1


def test_repo_without_commits(tmp_path: Path, cache: Path) -> None:
    git.Repo.init(tmp_path / "empty.git", bare=True)
    with pytest.raises(ResolutionError) as exc:
        resolve(f"git+{(tmp_path / 'empty.git').as_uri()}")
    assert_user_error(exc, "has no commits yet", "push a commit")


def test_failed_clone_leaves_nothing_half_made(source: Source, cache: Path, tmp_path: Path) -> None:
    missing = tmp_path / "later"
    spec = f"git+{missing.as_uri()}"
    with pytest.raises(ResolutionError) as exc:
        resolve(spec)
    assert_user_error(exc, f"could not clone {missing.as_uri()}", "does not appear to be a git repository")
    (repo_dir,) = (cache / "repos").iterdir()
    assert [p.name for p in repo_dir.iterdir()] == [".lock"]

    source.path.rename(missing)  # the next attempt clones from scratch
    assert resolve(spec).commit == source.c2


def test_failed_github_clone_explains_the_shorthand(mirror: Path, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ResolutionError) as exc:
        resolve("nobody/nothing:main", cwd=tmp_path)
    assert_user_error(
        exc,
        f"could not clone {mirror.as_uri()}/nobody/nothing.git",
        "'nobody/nothing:main' was read as the GitHub repo nobody/nothing because no such directory exists",
    )


def test_clone_failure_never_shows_the_password(cache: Path) -> None:
    # Port 1 on localhost refuses at once: no network needed.
    with pytest.raises(ResolutionError) as exc:
        resolve("git+https://user:s3cret@127.0.0.1:1/o/n.git")
    message = assert_user_error(exc, "could not clone https://user:***@127.0.0.1:1/o/n.git")
    assert "s3cret" not in message


def test_without_git_local_dirs_resolve_and_remote_ones_explain(tmp_path: Path) -> None:
    (tmp_path / "local" / ".git").mkdir(parents=True)
    check = (
        "import sys\n"
        "from hubcheck.errors import ResolutionError\n"
        "from hubcheck.resolve import resolve\n"
        "assert resolve(sys.argv[1]).commit is None\n"
        "try:\n"
        "    resolve(sys.argv[2])\n"
        "except ResolutionError as exc:\n"
        "    print(exc)\n"
    )
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path), "HUBCHECK_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path / "local"), f"git+{(tmp_path / 'x').as_uri()}"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "git is not installed or not on PATH; install git to check remote repos"


def test_reports_never_show_the_password() -> None:
    spec = parse_spec("git+https://x-access-token:s3cret@host/o/n.git@main")
    resolved = ResolvedRepo(spec, Path("/cache/tree"), "a" * 40, "main", None)
    assert "s3cret" not in json.dumps(resolved.to_json()) + resolved.describe()
    assert resolved.to_json()["url"] == "https://x-access-token:***@host/o/n.git"


# -- require_hubconf and default_cache_dir ---------------------------------------


def test_require_hubconf(tmp_path: Path) -> None:
    (tmp_path / "hubconf.py").write_text("")
    assert require_hubconf(resolve(str(tmp_path))) == tmp_path / "hubconf.py"


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda root: None, ["no hubconf.py in", "not a PyTorch Hub repo", "at the repo root"]),
        (lambda root: (root / "hubconf.py").mkdir(), ["hubconf.py is a directory", "a regular Python file"]),
        (lambda root: (root / "hubconf.py").symlink_to(root / "gone.py"), ["broken symlink"]),
    ],
)
def test_require_hubconf_errors(make, fragments: list[str], tmp_path: Path) -> None:
    make(tmp_path)
    with pytest.raises(ResolutionError) as exc:
        require_hubconf(resolve(str(tmp_path)))
    assert_user_error(exc, *fragments)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_require_hubconf_unreadable(tmp_path: Path) -> None:
    (tmp_path / "hubconf.py").write_text("")
    (tmp_path / "hubconf.py").chmod(0)
    with pytest.raises(ResolutionError) as exc:
        require_hubconf(resolve(str(tmp_path)))
    assert_user_error(exc, "cannot read", "fix its permissions")


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("HUBCHECK_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / ".cache" / "hubcheck"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert default_cache_dir() == tmp_path / ".cache" / "hubcheck"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "hubcheck"
    monkeypatch.setenv("HUBCHECK_CACHE", "~/hc")
    assert default_cache_dir() == tmp_path / "hc"
