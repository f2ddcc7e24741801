"""Formatters: turn a :class:`~hubcheck.results.Report` into text. They decide nothing and do no I/O."""

from __future__ import annotations

import enum


class LintFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"
    MARKDOWN = "markdown"


class ValidateFormat(str, enum.Enum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    SARIF = "sarif"
    GITHUB = "github"
