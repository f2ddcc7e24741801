"""Rewrite one file's syntax tree with libcst: keywords added to weight-loading calls (HUB201,
HUB202) and a ``dependencies`` list added to hubconf.py (HUB003)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from hubcheck.findings import Finding
from hubcheck.fixes.file_fix import FileFix

# What each rule's fix passes to the call it flags, in the order they are added.
_KEYWORDS = {"HUB201": ("map_location", '"cpu"'), "HUB202": ("weights_only", "True")}


def fix_file(repo_root: Path, path: str, findings: tuple[Finding, ...],
             dependencies: Sequence[str] = ("torch",)) -> FileFix | None:
    """The fixed content of ``path`` (relative to ``repo_root``), or None when nothing in it can be fixed.

    Args:
        dependencies: the modules a HUB003 fix lists.
    """
    file = repo_root / path
    # Only files the repo holds: a link out of it (or a finding reported outside it) is someone else's file.
    if not file.is_file() or not file.resolve().is_relative_to(repo_root.resolve()):
        return None
    before = file.read_bytes()
    try:
        module = cst.parse_module(before)
    except cst.ParserSyntaxError:
        return None
    text_lines = before.decode(module.encoding, "replace").splitlines()
    targets: dict[tuple[int, int], list[tuple[str, Finding]]] = {}
    for finding in sorted(findings, key=lambda f: f.code):
        if finding.code in _KEYWORDS and finding.line is not None and finding.column is not None:
            targets.setdefault(_character_position(text_lines, finding.line, finding.column), []).append(
                (finding.code, finding))
    calls = _CallKeywords(targets)
    fixed_module = MetadataWrapper(module).visit(calls)
    fixed = list(calls.fixed)
    wants_dependencies = next((f for f in findings if f.code == "HUB003"), None)
    if wants_dependencies is not None and not _assigns_dependencies(fixed_module):
        fixed_module = _with_dependencies(fixed_module, dependencies)
        fixed.append(wants_dependencies)
    after = fixed_module.bytes
    if after == before:
        return None
    return FileFix(path, before, after, module.encoding, tuple(fixed))


def _character_position(lines: list[str], line: int, column: int) -> tuple[int, int]:
    """(line, 0-based character column) of a finding, whose column counts UTF-8 bytes as ``ast`` does."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return line, len(text.encode("utf-8")[: column - 1].decode("utf-8", "ignore"))


class _CallKeywords(cst.CSTTransformer):
    """Give each flagged call the keyword its rule asks for; a ``keyword=None`` gets the value instead."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, targets: dict[tuple[int, int], list[tuple[str, Finding]]]) -> None:
        super().__init__()
        self._targets = targets
        self.fixed: list[Finding] = []

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        start = self.get_metadata(PositionProvider, original_node).start
        for code, finding in self._targets.pop((start.line, start.column), ()):
            keyword, value = _KEYWORDS[code]
            fixed = _with_keyword(updated_node, keyword, cst.parse_expression(value))
            if fixed is not None:
                updated_node = fixed
                self.fixed.append(finding)
        return updated_node


def _unsafe_to_add(call: cst.Call, keyword: str) -> bool:
    """Whether adding ``keyword`` could make the call fail or mean something else.

    A positional ``None`` after the first argument may be map_location itself (``torch.load(f, None)``):
    adding the keyword would pass it twice. weights_only=True refuses an explicit ``pickle_module``
    (the third positional argument of torch.load), and a ``*args`` splat may hold either.
    """
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    if any(arg.star == "*" for arg in call.args):
        return True
    if keyword == "map_location":
        return any(isinstance(arg.value, cst.Name) and arg.value.value == "None" for arg in positional[1:])
    return len(positional) >= 3 or any(
        arg.keyword is not None and arg.keyword.value == "pickle_module" for arg in call.args)


def _with_keyword(call: cst.Call, keyword: str, value: cst.BaseExpression) -> cst.Call | None:
    """``call`` passing ``keyword=value``; None when it passes the keyword already with a value not None,
    or when adding it is not safe (see :func:`_unsafe_to_add`)."""
    args = list(call.args)
    for position, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == keyword:
            if not (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
                return None
            args[position] = arg.with_changes(value=value)
            return call.with_changes(args=args)
    if _unsafe_to_add(call, keyword):
        return None
    no_space = cst.SimpleWhitespace("")
    added = cst.Arg(value=value, keyword=cst.Name(keyword),
                    equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space))
    if args:
        last = args[-1]
        comma = last.comma
        before_args = call.whitespace_before_args
        if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace) \
                and isinstance(before_args, cst.ParenthesizedWhitespace):
            # One argument a line: the new one goes on its own line, indented as the others, with a
            # trailing comma; a comment after the last argument stays on that argument's line.
            after_last = comma.whitespace_after
            args[-1] = last.with_changes(comma=comma.with_changes(whitespace_after=after_last.with_changes(
                indent=before_args.indent, last_line=before_args.last_line)))
            added = added.with_changes(comma=cst.Comma(whitespace_after=cst.ParenthesizedWhitespace(
                indent=after_last.indent, last_line=after_last.last_line)))
        elif isinstance(comma, cst.Comma):
            added = added.with_changes(comma=comma)
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        else:
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*args, added])


def _assigns_dependencies(module: cst.Module) -> bool:
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                targets = small.targets if isinstance(small, cst.Assign) else ()
                if any(isinstance(t.target, cst.Name) and t.target.value == "dependencies" for t in targets):
                    return True
    return False


def _with_dependencies(module: cst.Module, dependencies: Sequence[str]) -> cst.Module:
    """``dependencies = [...]`` after the module docstring and ``from __future__`` imports, where
    PEP 8 puts module-level dunders; torch.hub reads it after importing hubconf, so where it sits
    changes nothing else."""
    listed = ", ".join(f'"{name}"' for name in dependencies)
    statement = cst.parse_statement(f"dependencies = [{listed}]\n")
    body = list(module.body)
    position = 1 if body and _is_docstring(body[0]) else 0
    while position < len(body) and _is_future_import(body[position]):
        position += 1
    # One blank line between it and the statements around it.
    if position > 0:
        statement = statement.with_changes(leading_lines=[cst.EmptyLine()])
    if position < len(body) and not body[position].leading_lines:
        body[position] = body[position].with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(position, statement)
    return module.with_changes(body=body)


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _is_future_import(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine)
            and any(isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name)
                    and small.module.value == "__future__" for small in statement.body))
