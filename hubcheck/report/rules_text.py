"""``hubcheck rules``: the rule list, and one rule's documentation."""

from __future__ import annotations

from typing import Any

from hubcheck.rules import Rule


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
    lines += ["## Fix", rule.fix.replace("{", "<").replace("}", ">"), ""]
    return "\n".join(lines)


def format_rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.summary,
        "message": rule.message,
        "fix": rule.fix,
        "documentation": {title: text for title, text in rule.doc.sections()},
    }
