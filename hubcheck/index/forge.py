"""Links to a repo's source lines on its forge, at the commit that was checked."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

from hubcheck.resolve import GITHUB_URL_ENV

_GITHUB = "https://github.com"
_HTTP_GITHUB_RE = re.compile(r"(?P<base>https?://github\.com/[\w.-]+/[\w.-]+?)(?:\.git)?/?")


def blob_base(repo: dict[str, Any]) -> str | None:
    """``https://github.com/owner/name/blob/<commit>``, or None when the repo's forge or commit is unknown.

    ``owner/name`` specs link to GitHub, or to ``$HUBCHECK_GITHUB_URL`` when that is an http(s) forge (GitHub
    Enterprise has the same URLs); a ``file://`` mirror stands in for GitHub, so the links still go there.
    ``git+URL`` specs link only when the URL is GitHub's; local directories never do.
    """
    commit = repo.get("commit")
    url = repo.get("url")
    if not isinstance(commit, str) or not isinstance(url, str) or repo.get("dirty"):
        return None
    if repo.get("kind") == "github":
        configured = (os.environ.get(GITHUB_URL_ENV) or _GITHUB).rstrip("/")
        host = configured if configured.startswith(("http://", "https://")) else _GITHUB
        owner_name = url.rstrip("/").removesuffix(".git").rsplit("/", 2)[-2:]
        return f"{host}/{'/'.join(owner_name)}/blob/{commit}"
    match = _HTTP_GITHUB_RE.fullmatch(url)
    return f"{match['base']}/blob/{commit}" if match is not None else None


def line_url(base: str | None, path: str, line: int | None) -> str | None:
    """The URL of ``path`` (relative to the repo root) at ``line``, under :func:`blob_base`'s ``base``."""
    if base is None:
        return None
    anchor = f"#L{line}" if line else ""
    return f"{base}/{quote(path)}{anchor}"
