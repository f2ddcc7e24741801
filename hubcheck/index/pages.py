"""Checks of a hub index page: its front matter, the repo it links, and the calls its snippets make.

The front-matter rules are pytorch/hub's own (its ``scripts/sanity_check.py``): the fixed layout fields, the
fields every page must fill in, a category from its list, tags from ``scripts/tags.py`` when the checkout has
one (read with ``ast``, never imported), images present under ``images/``, and no extra ``:`` in fields Jekyll
would misread.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from hubcheck.config_overlay import accepts
from hubcheck.index.frontmatter import FrontMatter, read_front_matter
from hubcheck.index.snippets import PageCall, page_calls
from hubcheck.results import CheckResult, Status
from hubcheck.static.model import HubconfModel

FIXED_FIELDS = {"layout": "hub_detail", "background-class": "hub-background", "body-class": "hub"}
REQUIRED_FIELDS = ("title", "summary", "image", "author", "tags", "github-link", "category")
CATEGORIES = ("researchers", "developers")
IMAGE_FIELDS = ("image", "featured_image_1", "featured_image_2")
BUILT_IN_IMAGES = frozenset({"pytorch-logo.png", "no-image"})
NOT_PAGES = frozenset({"README.md", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md"})
"""Markdown files of an index checkout that document the index instead of a model."""

FRONT_MATTER_CHECK = "page-front-matter"
REPO_CHECK = "page-repo"
SNIPPETS_CHECK = "page-snippets"
PAGE_CHECKS = (FRONT_MATTER_CHECK, REPO_CHECK, SNIPPETS_CHECK)

_GITHUB_LINK_RE = re.compile(r"https?://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?(?:[/#?].*)?")


@dataclass(frozen=True)
class IndexPage:
    """One model page of the index, read and front-matter-checked, before its repo is looked at."""

    path: str
    """Relative to the index root, forward slashes."""
    text: str
    repo_id: str | None
    """``owner/name`` the page names (``github-id``, else the ``github-link`` repo) as written, or None."""
    repo_line: int | None
    front_matter: CheckResult
    body_line: int


@dataclass(frozen=True)
class PageResult:
    """What the checks found on one page."""

    path: str
    checks: tuple[CheckResult, ...]

    @property
    def failed(self) -> bool:
        return any(check.status is Status.FAILED for check in self.checks)


def read_page(index_root: Path, path: Path, valid_tags: frozenset[str] | None, images: frozenset[str] | None
              ) -> IndexPage:
    """Read one page and check its front matter (no repo involved)."""
    relative = path.relative_to(index_root).as_posix()
    text = path.read_text(encoding="utf-8", errors="replace")
    front = read_front_matter(text)
    if front is None:
        check = _result(FRONT_MATTER_CHECK, Status.FAILED, "no front matter: the page must start with a `---` "
                        "block of `key: value` lines (see pytorch/hub's docs/template.md)", 1)
        return IndexPage(relative, text, None, None, check, 1)
    repo_id, repo_line = _repo_id(front)
    problems = _front_matter_problems(front, valid_tags, images)
    if repo_id is None:
        problems.append((front.lines.get("github-link", 1), ("neither `github-id` nor `github-link` names a GitHub "
                         "owner/name repo")))
    if problems:
        line, _ = min(problems)
        message = "; ".join(f"line {number}: {text}" for number, text in sorted(problems))
        check = _result(FRONT_MATTER_CHECK, Status.FAILED, message, line)
    else:
        check = _result(FRONT_MATTER_CHECK, Status.PASSED, f"{len(front.fields)} fields, all required ones present", 1)
    return IndexPage(relative, text, repo_id, repo_line, check, front.body_line)


def index_tags(index_root: Path) -> frozenset[str] | None:
    """``valid_tags`` from the checkout's ``scripts/tags.py``, read as a literal; None when there is none."""
    try:
        tree = ast.parse((index_root / "scripts" / "tags.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "valid_tags" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            if isinstance(value, (list, tuple)) and all(isinstance(tag, str) for tag in value):
                return frozenset(value)
    return None


def index_images(index_root: Path) -> frozenset[str] | None:
    """The file names under ``images/``, or None when the checkout has no such directory."""
    directory = index_root / "images"
    if not directory.is_dir():
        return None
    return frozenset(entry.name for entry in directory.iterdir()) | BUILT_IN_IMAGES


def repo_check(page: IndexPage, problem: str | None) -> CheckResult:
    """Whether the repo the page links resolved and has a hubconf.py; ``problem`` says why not."""
    if problem is None:
        return _result(REPO_CHECK, Status.PASSED, f"{page.repo_id} resolves and has hubconf.py", page.repo_line)
    return _result(REPO_CHECK, Status.FAILED, problem, page.repo_line)


def snippets_check(page: IndexPage, model: HubconfModel | None, model_problem: str | None) -> CheckResult:
    """The page's hub calls naming its own repo: each names an entry point hubconf defines, with keywords it takes."""
    calls = [call for call in page_calls(Path(page.path), page.text)
             if page.repo_id is not None and call.repo_id == page.repo_id.lower()]
    if not calls:
        return _result(SNIPPETS_CHECK, Status.SKIPPED, f"no torch.hub call in the page's Python snippets names "
                       f"{page.repo_id}", None)
    if model is None:
        return _result(SNIPPETS_CHECK, Status.SKIPPED, f"{len(calls)} call(s) not checked: {model_problem}",
                       calls[0].line)
    problems = [problem for call in calls for problem in _call_problems(call, model)]
    if problems:
        return _result(SNIPPETS_CHECK, Status.FAILED, "; ".join(f"line {line}: {text}" for line, text in problems),
                       problems[0][0])
    note = "" if model.complete else " (the static entry point list is incomplete: names not found were not judged)"
    return _result(SNIPPETS_CHECK, Status.PASSED, f"{len(calls)} call(s) name existing entry points with keywords "
                   f"they take{note}", calls[0].line)


def _call_problems(page_call: PageCall, model: HubconfModel) -> list[tuple[int, str]]:
    call, line = page_call.call, page_call.line
    where = "a commented-out " if page_call.commented else ""
    if call.entrypoint is None:
        return []
    entry = model.entrypoint(call.entrypoint)
    if entry is None:
        if not model.complete:
            return []
        names = [e.name for e in model.entrypoints]
        close = difflib.get_close_matches(call.entrypoint, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return [(line, (f"{where}torch.hub.{call.function} names {call.entrypoint!r}, which hubconf.py does "
                 f"not define{hint}"))]
    unaccepted = [key for key in call.keywords if not accepts(entry.parameters, key)]
    return [(line, (f"{where}torch.hub.load passes {key}= to {call.entrypoint!r}, whose signature "
             f"{entry.signature} does not take it")) for key in unaccepted]


def _repo_id(front: FrontMatter) -> tuple[str | None, int | None]:
    github_id = front.text("github-id")
    if github_id and re.fullmatch(r"[\w.-]+/[\w.-]+", github_id):
        return github_id, front.lines["github-id"]
    link = _GITHUB_LINK_RE.fullmatch(front.text("github-link") or "")
    if link is not None:
        return f"{link['owner']}/{link['name']}", front.lines["github-link"]
    return None, None


def _front_matter_problems(front: FrontMatter, valid_tags: frozenset[str] | None,
                           images: frozenset[str] | None) -> list[tuple[int, str]]:
    problems = list(front.problems)
    first = 1
    for key, expected in FIXED_FIELDS.items():
        if front.fields.get(key) != expected:
            problems.append((front.lines.get(key, first), f"`{key}` must be `{expected}`"))
    missing = [key for key in REQUIRED_FIELDS if front.fields.get(key) in (None, "", ())]
    if missing:
        problems.append((first, f"missing required field(s): {', '.join(missing)}"))
    category = front.text("category")
    if category and category not in CATEGORIES:
        problems.append((front.lines["category"], f"category {category!r} is not one of {', '.join(CATEGORIES)}"))
    tags = front.fields.get("tags")
    if valid_tags is not None and tags:
        unknown = [tag for tag in (tags if isinstance(tags, tuple) else (tags,)) if tag not in valid_tags]
        if unknown:
            problems.append((front.lines["tags"], f"tag(s) {', '.join(unknown)} not in scripts/tags.py's valid_tags"))
    for key in IMAGE_FIELDS:
        image = front.text(key)
        if images is not None and image and image not in images:
            problems.append((front.lines[key], f"`{key}` {image!r} is not under images/"))
    for key, value in front.fields.items():
        if not key.endswith("-link") and ":" in str(value):
            problems.append((front.lines[key], f"`{key}` holds a ':', which breaks the Jekyll build"))
    return problems


def _result(check: str, status: Status, message: str, line: int | None) -> CheckResult:
    return CheckResult(entrypoint=None, check=check, device=None, status=status, message=message, line=line)
