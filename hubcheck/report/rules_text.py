"""``hubcheck rules``: the rule list, and one rule's documentation."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from hubcheck.rules import Rule

_PYTHON_FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def format_rules_table(rules: tuple[Rule, ...]) -> str:
    width = max(len(rule.name) for rule in rules)
    lines = [f"{rule.code}  {rule.name:<{width}}  {rule.severity.value:<7}  {rule.summary}" for rule in rules]
    lines.append("")
    lines.append("`hubcheck rules CODE` explains one rule.")
    return "\n".join(lines) + "\n"


def format_rule(rule: Rule) -> str:
    lines = [f"{rule.code} {rule.name} ({rule.severity.value})", ""]
    for title, text in rule.doc.sections():
        lines += [f"## {title}", text, ""]
    lines += ["## Fix", example_fix(rule) or rule.fix.replace("{", "<").replace("}", ">"), ""]
    return "\n".join(lines)


def example_fix(rule: Rule) -> str | None:
    """The fix text the rule gives for its own documented example, or None when the example does not trigger it.

    A fix is a template (``anchor it to a fixed location: `{anchored}```); filled in
    from a real finding it reads as users will see it. The example is linted as the
    hubconf.py of a scratch directory: statically, like every lint.
    """
    if "{" not in rule.fix:
        return rule.fix
    example = _PYTHON_FENCE.search(rule.doc.example)
    if example is None:
        return None
    from hubcheck.lint import lint_repo

    with tempfile.TemporaryDirectory(prefix="hubcheck-rule-") as scratch:
        (Path(scratch) / "hubconf.py").write_text(example.group(1), encoding="utf-8")
        findings = lint_repo(Path(scratch), select=(rule.code,), cache=None).findings
    return next((finding.fix for finding in findings if finding.code == rule.code and finding.fix), None)


def format_rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.summary,
        "message": rule.message,
        "fix": rule.fix,
        "documentation": dict(rule.doc.sections()),
    }
