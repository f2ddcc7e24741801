"""Compare the entry points of two refs of a hub repo: what would break users who pin the old one.

Both sides are static models (:func:`~hubcheck.static.read_hubconf`), so nothing of
either ref runs. Each kind of change is declared once, with its code, severity,
message and documentation, as a lint rule is; :func:`compare` only reports
:class:`ApiChange` records, and :func:`findings_of` turns them into the findings every
report format renders.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubcheck.baseline import content_fingerprint
from hubcheck.errors import ResolutionError
from hubcheck.findings import Finding, Severity
from hubcheck.rules.base import RuleDoc
from hubcheck.static.model import EntryPoint, HubconfModel, Parameter
from hubcheck.static.returns import return_kind

if TYPE_CHECKING:
    from hubcheck.ref_trees import RefTree
    from hubcheck.resolve import RepoSpec

HUBCONF = "hubconf.py"
_POSITIONAL = ("positional_only", "positional_or_keyword")
_KEYWORD = ("positional_or_keyword", "keyword_only")
_FALSY_DEFAULTS = frozenset({"False", "None", "0", "''", '""'})


@dataclass(frozen=True)
class ChangeKind:
    """One kind of API change, declared once (the diff's counterpart of a lint rule)."""

    code: str
    name: str
    severity: Severity
    message: str
    """``str.format`` template filled from :attr:`ApiChange.args`."""
    fix: str
    doc: RuleDoc

    @property
    def summary(self) -> str:
        return self.doc.what_it_does

    def format_message(self, args: Mapping[str, Any]) -> str:
        return self.message.format(**args)

    def format_fix(self, args: Mapping[str, Any]) -> str:
        return self.fix.format(**args)


def _kind(code: str, name: str, severity: Severity, message: str, fix: str, what: str, why: str,
          example: str, instead: str) -> ChangeKind:
    references = "torch.hub.load (https://pytorch.org/docs/stable/hub.html); `hubcheck diff` in the README."
    return ChangeKind(code, name, severity, message, fix, RuleDoc(what, why, example, instead, references))


ENTRYPOINT_REMOVED = _kind(
    "API001", "entrypoint-removed", Severity.ERROR,
    "entry point {entrypoint!r} was removed{renamed}", "keep {entrypoint!r} as an alias of its replacement",
    "An entry point of the base ref is not in the head ref's torch.hub.list.",
    "`torch.hub.load(repo, name)` pinned to a tag fails with \"Cannot find callable\" once the tag moves on.",
    "`def resnet50(...)` renamed to `def resnet_50(...)`.",
    "Keep the old name: `resnet50 = resnet_50`.",
)
PARAMETER_REMOVED = _kind(
    "API002", "parameter-removed", Severity.ERROR,
    "{entrypoint}() no longer takes {parameter!r}{absorbed}",
    "keep accepting {parameter!r} (deprecate it, and ignore it with a warning)",
    "A parameter of an entry point (`*args` and `**kwargs` included) is gone from the head ref.",
    "Callers passing it get a TypeError, or, where `**kwargs` swallows it, a model built without it.",
    "`def model(pretrained=False, num_classes=1000)` becoming `def model(pretrained=False)`.",
    "Keep the parameter and warn when it is passed.",
)
PARAMETER_REQUIRED = _kind(
    "API003", "parameter-became-required", Severity.ERROR,
    "{entrypoint}() now requires {parameter!r}{detail}", "give {parameter!r} a default",
    "A parameter that callers could leave out has no default in the head ref, or a new one has none.",
    "Every existing `torch.hub.load(repo, name)` call that leaves it out fails with a TypeError.",
    "`def model(num_classes=1000)` becoming `def model(num_classes)`.",
    "`def model(num_classes=1000)`: new parameters get defaults that keep the old behaviour.",
)
PARAMETER_KIND_CHANGED = _kind(
    "API004", "parameter-kind-changed", Severity.ERROR,
    "{entrypoint}() parameter {parameter!r} {change}", "accept {parameter!r} both ways, as before",
    "A parameter that could be passed by keyword (or by position) no longer can.",
    "`torch.hub.load(repo, name, *args, **kwargs)` forwards both; callers using the old way get a TypeError.",
    "`def model(pretrained=False)` becoming `def model(*, pretrained=False)`.",
    "Keep the parameter positional-or-keyword.",
)
PARAMETER_MOVED = _kind(
    "API005", "parameter-moved", Severity.WARNING,
    "{entrypoint}() parameter {parameter!r} moved from position {old} to {new}",
    "keep the positional order; add new parameters at the end",
    "A positional parameter's position changed.",
    "Callers passing arguments positionally silently bind them to other parameters.",
    "`def model(pretrained, progress)` becoming `def model(progress, pretrained)`.",
    "Append new parameters after the existing ones.",
)
DEFAULT_CHANGED = _kind(
    "API006", "default-changed", Severity.WARNING,
    "{entrypoint}() default of {parameter!r} changed from {old} to {new}",
    "say so in the release notes, or keep the old default",
    "A parameter's default value changed.",
    "Callers relying on the default get a different model without any error.",
    "`def model(num_classes=1000)` becoming `def model(num_classes=21)`.",
    "Keep the default; add a new entry point for the new configuration.",
)
PRETRAINED_FLIPPED = _kind(
    "API007", "pretrained-default-flipped", Severity.ERROR,
    "{entrypoint}() default of {parameter!r} flipped from {old} to {new}",
    "keep the old default of {parameter!r}",
    "A `pretrained` or `weights` default switched between loading weights and not.",
    "Users silently get a randomly initialised model, or a download they did not ask for (which fails offline).",
    "`def model(pretrained=True)` becoming `def model(pretrained=False)`.",
    "Keep `pretrained=True`; document the change and let users pass `pretrained=False`.",
)
RETURN_KIND_CHANGED = _kind(
    "API008", "return-kind-changed", Severity.ERROR,
    "{entrypoint}() now returns {new} instead of {old}", "return what the base ref returned, or add a new entry point",
    "An entry point whose code says what it returns (a class, a literal tuple, dict, list or None) returns "
    "another kind of thing in the head ref.",
    "`model = torch.hub.load(...)` followed by `model(x)` breaks when a model becomes a `(model, transform)` tuple.",
    "`return model` becoming `return model, transform`.",
    "Add `name_with_transform` returning the tuple, and keep `name` returning the model.",
)
DOCSTRING_REMOVED = _kind(
    "API010", "docstring-removed", Severity.WARNING,
    "{entrypoint}() lost its docstring: torch.hub.help now returns None", "restore the docstring",
    "An entry point documented in the base ref has no docstring in the head ref.",
    "`torch.hub.help(repo, name)` returns None; users lose the only documentation torch.hub shows.",
    "A refactor that moves the function behind `functools.partial`.",
    "Keep a docstring on the entry point itself.",
)
DEPENDENCY_ADDED = _kind(
    "API011", "dependency-added", Severity.WARNING,
    "dependencies now lists {dependency!r}", "say so in the release notes",
    "A module-level `dependencies` entry is new in the head ref.",
    "torch.hub.load refuses to load the repo (\"Missing dependencies\") for users without the package.",
    "`dependencies = [\"torch\"]` becoming `dependencies = [\"torch\", \"timm\"]`.",
    "Make the new import optional, or announce the new requirement.",
)
ENTRYPOINT_ADDED = _kind(
    "API101", "entrypoint-added", Severity.INFO,
    "entry point {entrypoint!r} is new", "nothing to do",
    "An entry point of the head ref is not in the base ref.",
    "Nothing: additions break no caller. Listed so a release note can mention it.",
    "`def resnet152(...)` added.",
    "Nothing to change.",
)
PARAMETER_ADDED = _kind(
    "API102", "parameter-added", Severity.INFO,
    "{entrypoint}() takes a new optional parameter {parameter!r}", "nothing to do",
    "An entry point takes a new parameter that has a default (or a new `*args` / `**kwargs`).",
    "Nothing: existing calls keep working. Listed so a release note can mention it.",
    "`def model(pretrained=False)` becoming `def model(pretrained=False, progress=True)`.",
    "Nothing to change.",
)
SIGNATURE_UNKNOWN = _kind(
    "API103", "signature-not-compared", Severity.INFO,
    "{entrypoint}(): the signature at {side} cannot be read statically, so its parameters were not compared",
    "define the entry point in the repo (not imported from an installed package) to have it compared",
    "An entry point present at both refs whose parameters static reading cannot see at one of them.",
    "Changes to its parameters go unreported.",
    "`from torchvision.models import resnet18` in hubconf.py.",
    "A function of the repo's own that calls the imported one.",
)
LIST_INCOMPLETE = _kind(
    "API104", "entrypoint-list-incomplete", Severity.INFO,
    "the static entry point list at {side} is incomplete ({reason}): the diff covers the names it could read",
    "bind entry points with plain `def`, `class` and assignments to have them all compared",
    "hubconf.py builds part of its namespace at run time at one of the refs.",
    "Names created at run time (`globals().update(...)`) are not compared.",
    "`globals().update(registry)` in hubconf.py.",
    "Plain module-level definitions.",
)

CHANGE_KINDS: tuple[ChangeKind, ...] = (
    ENTRYPOINT_REMOVED, PARAMETER_REMOVED, PARAMETER_REQUIRED, PARAMETER_KIND_CHANGED, PARAMETER_MOVED,
    DEFAULT_CHANGED, PRETRAINED_FLIPPED, RETURN_KIND_CHANGED, DOCSTRING_REMOVED, DEPENDENCY_ADDED,
    ENTRYPOINT_ADDED, PARAMETER_ADDED, SIGNATURE_UNKNOWN, LIST_INCOMPLETE,
)


@dataclass(frozen=True)
class ApiChange:
    """One difference between the base and the head ref."""

    kind: ChangeKind
    entrypoint: str | None
    line: int | None
    """Line in the head ref's hubconf.py, or None for what is gone from it."""
    args: Mapping[str, Any] = field(default_factory=dict)


def compare(base: HubconfModel, head: HubconfModel) -> tuple[ApiChange, ...]:
    """Every change from ``base`` to ``head`` that torch.hub users can notice, in a stable order."""
    changes: list[ApiChange] = []
    for side, model in (("base", base), ("head", head)):
        if not model.complete:
            changes.append(ApiChange(LIST_INCOMPLETE, None, None, {"side": side, "reason": _incomplete_reason(model)}))
    # Leaked imports (lint's HUB103) are in torch.hub.list by accident, not API anyone promised.
    base_names = {entry.name: entry for entry in base.entrypoints if not entry.leaked}
    head_names = {entry.name: entry for entry in head.entrypoints if not entry.leaked}
    added = sorted(set(head_names) - set(base_names))
    for name in sorted(set(base_names) - set(head_names)):
        changes.append(ApiChange(ENTRYPOINT_REMOVED, name, None,
                                 {"entrypoint": name, "renamed": _renamed_hint(base_names[name], added, head_names)}))
    for name in added:
        changes.append(ApiChange(ENTRYPOINT_ADDED, name, head_names[name].line, {"entrypoint": name}))
    for name in sorted(set(base_names) & set(head_names)):
        changes += _entrypoint_changes(base_names[name], head_names[name])
    for entry in head.dependencies.entries:
        if entry.value not in base.dependencies.names:
            changes.append(ApiChange(DEPENDENCY_ADDED, None, entry.line, {"dependency": entry.value}))
    return tuple(changes)


def findings_of(changes: tuple[ApiChange, ...]) -> tuple[Finding, ...]:
    """The changes as findings (path ``hubconf.py``), sorted as lint sorts its findings."""
    findings = []
    for change in changes:
        message = change.kind.format_message(change.args)
        findings.append(Finding(
            code=change.kind.code, name=change.kind.name, severity=change.kind.severity, message=message,
            path=HUBCONF, line=change.line, column=1 if change.line is not None else None,
            entrypoint=change.entrypoint, fix=change.kind.format_fix(change.args),
            fingerprint=content_fingerprint(change.kind.code, HUBCONF, change.entrypoint, message),
        ))
    return tuple(sorted(findings, key=Finding.sort_key))


def _incomplete_reason(model: HubconfModel) -> str:
    if model.dynamic:
        return model.dynamic[0].description
    return f"{model.uncertain[0].name!r}: {model.uncertain[0].reason}"


def _renamed_hint(removed: EntryPoint, added: list[str], head: Mapping[str, EntryPoint]) -> str:
    """`` (renamed to 'x'?)`` for a new entry point with the removed one's signature and docstring, or one
    whose name holds every part of the removed name (``mobilenetv3_100`` -> ``mobilenetv3_large_100``)."""
    same = [name for name in added if removed.doc is not None and head[name].doc == removed.doc
            and head[name].parameters == removed.parameters]
    parts = set(removed.name.lower().split("_"))
    extended = [name for name in added if parts <= set(name.lower().split("_"))]
    close = difflib.get_close_matches(removed.name, same or extended, n=1, cutoff=0)
    return f" (renamed to {close[0]!r}?)" if close else ""


def _entrypoint_changes(base: EntryPoint, head: EntryPoint) -> Iterator[ApiChange]:
    name, line = head.name, head.line
    if base.doc is not None and head.doc is None:
        yield ApiChange(DOCSTRING_REMOVED, name, line, {"entrypoint": name})
    old_return, new_return = return_kind(base), return_kind(head)
    if old_return is not None and new_return is not None and old_return != new_return:
        yield ApiChange(RETURN_KIND_CHANGED, name, line, {"entrypoint": name, "old": old_return, "new": new_return})
    if base.parameters is None or head.parameters is None:
        side = "both refs" if base.parameters is None and head.parameters is None else (
            "the base ref" if base.parameters is None else "the head ref")
        yield ApiChange(SIGNATURE_UNKNOWN, name, line, {"entrypoint": name, "side": side})
        return
    yield from _parameter_changes(name, line, base.parameters, head.parameters)


def _parameter_changes(name: str, line: int, base: tuple[Parameter, ...],
                       head: tuple[Parameter, ...]) -> Iterator[ApiChange]:
    head_by_name = {param.name: param for param in head}
    takes_kwargs = any(param.kind == "var_keyword" for param in head)
    base_positions = _positions(base)
    head_positions = _positions(head)
    for old in base:
        args = {"entrypoint": name, "parameter": _spelled(old)}
        new = head_by_name.get(old.name) if not old.is_variadic else next(
            (param for param in head if param.kind == old.kind), None)
        if new is None:
            absorbed = " (**kwargs still accepts it, but nothing names it)" if takes_kwargs and not old.is_variadic else ""
            yield ApiChange(PARAMETER_REMOVED, name, line, {**args, "absorbed": absorbed})
            continue
        if old.is_variadic:
            continue
        change = _kind_change(old, new)
        if change is not None:
            yield ApiChange(PARAMETER_KIND_CHANGED, name, line, {**args, "change": change})
        if old.default is not None and new.default is None:
            yield ApiChange(PARAMETER_REQUIRED, name, line, {**args, "detail": f" (its default was {old.default})"})
        elif old.default is not None and new.default is not None and not _same_value(old.default, new.default):
            flipped = _is_weights_switch(old.name) and (old.default in _FALSY_DEFAULTS) != (new.default in _FALSY_DEFAULTS)
            yield ApiChange(PRETRAINED_FLIPPED if flipped else DEFAULT_CHANGED, name, line,
                            {**args, "old": old.default, "new": new.default})
        if change is None and old.name in base_positions and old.name in head_positions \
                and base_positions[old.name] != head_positions[old.name]:
            yield ApiChange(PARAMETER_MOVED, name, line, {**args, "old": base_positions[old.name] + 1,
                                                           "new": head_positions[old.name] + 1})
    base_names = {param.name for param in base if not param.is_variadic}
    base_variadic = {param.kind for param in base if param.is_variadic}
    for new in head:
        if (new.name in base_names and not new.is_variadic) or (new.is_variadic and new.kind in base_variadic):
            continue
        args = {"entrypoint": name, "parameter": _spelled(new)}
        if new.default is None and not new.is_variadic:
            yield ApiChange(PARAMETER_REQUIRED, name, line, {**args, "detail": ", a new parameter without a default"})
        else:
            yield ApiChange(PARAMETER_ADDED, name, line, args)


def _positions(parameters: tuple[Parameter, ...]) -> dict[str, int]:
    return {param.name: index for index, param in enumerate(p for p in parameters if p.kind in _POSITIONAL)}


def _spelled(param: Parameter) -> str:
    return {"var_positional": "*", "var_keyword": "**"}.get(param.kind, "") + param.name


def _kind_change(old: Parameter, new: Parameter) -> str | None:
    if old.kind in _KEYWORD and new.kind not in _KEYWORD:
        return "can no longer be passed by keyword"
    if old.kind in _POSITIONAL and new.kind not in _POSITIONAL:
        return "can no longer be passed by position"
    return None


def _same_value(old: str, new: str) -> bool:
    """Whether two defaults' source texts are the same expression, whatever the spacing or quotes."""
    try:
        return ast.dump(ast.parse(old, mode="eval")) == ast.dump(ast.parse(new, mode="eval"))
    except SyntaxError:
        return old == new


def _is_weights_switch(name: str) -> bool:
    """Parameters that decide whether weights are downloaded: ``pretrained``, ``pretrained_backbone``, ``weights``."""
    lowered = name.lower()
    return "pretrain" in lowered or lowered in ("weights", "load_weights", "use_weights")


@dataclass(frozen=True)
class ApiDiff:
    """What changed between two refs of one repo."""

    base: RefTree
    head: RefTree
    changes: tuple[ApiChange, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return findings_of(self.changes)


def diff_repo(spec: RepoSpec, base_ref: str, head_ref: str | None = None, *, refresh: bool = False) -> ApiDiff:
    """Compare ``spec`` at ``base_ref`` with ``head_ref`` (None: the spec's ref, or a local directory as it is).

    Raises:
        ResolutionError: a ref cannot be resolved or exported, or has no readable hubconf.py.
    """
    from hubcheck.ref_trees import ref_tree

    with ref_tree(spec, base_ref, refresh=refresh) as base, ref_tree(spec, head_ref, refresh=refresh) as head:
        changes = compare(_model_at(base), _model_at(head))
    return ApiDiff(base, head, changes)


def _model_at(tree: RefTree) -> HubconfModel:
    from hubcheck.static.reader import HubconfUnreadable, read_hubconf
    from hubcheck.static.source import file_problem

    problem = file_problem(tree.path / HUBCONF)
    if problem is not None:
        raise ResolutionError(f"hubconf.py at {tree.ref} {problem.reason}; diff compares two refs that both have one")
    try:
        return read_hubconf(tree.path)
    except HubconfUnreadable as error:
        raise ResolutionError(f"at {tree.ref}: {error}") from None
