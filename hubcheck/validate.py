"""Validate a hub repo: import hubconf in a worker, run every entry point's checks on every device.

:class:`ValidationSession` is the one implementation of the checks' orchestration;
``hubcheck validate`` runs it over all entry points and the pytest plugin runs
it one entry point at a time. Results are :class:`~hubcheck.results.CheckResult`
records, streamed to a callback as they arrive.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib.util
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hubcheck.config import Config, EntrypointConfig, is_glob, parse_memory
from hubcheck.config_overlay import (
    accepts,
    load_layered_config,
    unaccepted_kwargs,
    with_overrides,
)
from hubcheck.errors import MissingDependencyError, UsageError
from hubcheck.isolation import Isolation
from hubcheck.model_checks import selected as selected_model_checks
from hubcheck.resolve import ResolvedRepo
from hubcheck.results import CheckResult, Environment, Report, Status
from hubcheck.run_options import RunOverrides, is_selected
from hubcheck.sandbox import JobRun, Worker, WorkerOptions
from hubcheck.static.model import HubconfModel, Parameter
from hubcheck.verdicts import (
    ChildReport,
    JudgeReport,
    decide,
    read_child,
    read_judge,
    with_output,
)
from hubcheck.worker.protocol import (
    JUDGE_MESSAGES,
    REPO_MESSAGES,
    EntryDescription,
    Errored,
    Finished,
    Imported,
    ImportJob,
    JudgeJob,
    ProtocolError,
    RecordSpec,
    ReferenceInfo,
    RunJob,
)
from hubcheck.worker.references import ReferencePathRefused, reference_file

ENTRYPOINT_CHECKS = ("load", "forward", "determinism", "state-dict-roundtrip", "reference")
ACCELERATOR_CHECKS = ("device-parity",)
REPO_CHECKS = ("import", "dependencies", "entrypoints")
REFERENCE_CASE = "default"
_IMPORT_MESSAGES = (Imported, Errored, Finished)
_RUN_MESSAGES = tuple(kind for kind in REPO_MESSAGES if kind is not Imported)
_JUDGE_MIN_TIMEOUT_S = 60.0

OnResult = Callable[[CheckResult], None]


@dataclass(frozen=True)
class ValidateOptions:
    """What the command line (or the pytest plugin) asks for, on top of the repo's config."""

    devices: tuple[str, ...] | None = None
    """Requested devices; None uses ``[validate] devices``."""
    entrypoints: tuple[str, ...] = ()
    select_patterns: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    require_device: bool = False
    require_references: bool = False
    timeout: float | None = None
    allow_network: bool | None = None
    allow_tf32: bool = False
    torch_home: Path | None = None
    max_memory: str | None = None
    python: str | None = None
    keep_obtained: Path | None = None
    writes_repo: bool = False
    """The worker writes into the repo (record's references): it is not put under an overlay."""
    lint: bool = True
    spec_for_commands: str | None = None
    """How to name the repo in suggested commands (the user's REPO argument)."""
    overrides: RunOverrides = field(default_factory=RunOverrides)
    """--config, --kwarg, --input, --method, --no-pretrained, --references, --check."""
    strict: bool = False
    """--strict: checks that were not verified fail the report (:attr:`Report.strict`)."""


@dataclass
class ImportOutcome:
    """What importing hubconf in the worker showed."""

    results: list[CheckResult]
    names: list[str]
    blocked_reason: str | None
    """Why entry points cannot be checked (import failed, missing dependencies), or None."""
    entries: dict[str, EntryDescription] = field(default_factory=dict)

    @property
    def failures(self) -> str | None:
        """The failed repo-level checks as one line (their first lines), or None when none failed."""
        failed = [r.message.splitlines()[0] for r in self.results if r.status is Status.FAILED]
        return "; ".join(failed) or None


def require_torch(python: str | None) -> None:
    """Fail with one line when the model-running commands cannot work here."""
    if python is None and (importlib.util.find_spec("torch") is None or importlib.util.find_spec("safetensors") is None):
        raise MissingDependencyError(
            "this command runs models and needs torch and safetensors: pip install 'hubcheck[run]'"
        )


class ValidationSession:
    """Checks of one repo, through one worker at a time (a fresh one after a crash)."""

    def __init__(
        self,
        repo: ResolvedRepo,
        options: ValidateOptions | None = None,
        config: Config | None = None,
        static_model: HubconfModel | None = None,
    ) -> None:
        """``static_model`` is hubconf as already read statically (by lint), so it is not read again."""
        self.repo = repo
        self.options = options or ValidateOptions()
        loaded = config if config is not None else load_layered_config(repo.path, self.options.overrides.config_file)
        self.config = with_overrides(loaded, self.options.overrides, self._parameters)
        require_torch(self.options.python)
        validate = self.config.validate
        allow_network = self.options.allow_network if self.options.allow_network is not None else validate.allow_network
        memory = self.options.max_memory or validate.max_memory
        try:
            max_memory = parse_memory(memory) if memory else None
        except ValueError as error:
            raise UsageError(f"--max-memory: {error}") from None
        self.worker_options = WorkerOptions(
            python=self.options.python, allow_network=allow_network, allow_tf32=self.options.allow_tf32,
            torch_home=self.options.torch_home, max_memory=max_memory, overlay_repo=self._overlay_repo(),
            overlay_keep=self._overlay_keep(),
        )
        self._worker: Worker | None = None
        self.environment: Environment | None = None
        self._import: ImportOutcome | None = None
        self._static: tuple[HubconfModel | None, str | None] | None = (static_model, None) if static_model else None

    def _overlay_repo(self) -> Path | None:
        """The repo, to be kept unchanged under an overlay, unless this run writes into it from the worker."""
        repo = self.repo.path.resolve()
        kept = self.options.keep_obtained
        if self.options.writes_repo or (kept is not None and kept.resolve().is_relative_to(repo)):
            return None
        return repo

    def _overlay_keep(self) -> tuple[Path, ...]:
        """The references directory, which the judge reads: the real one, read-only, not repo code's overlay."""
        repo, refs = self._overlay_repo(), self.references_dir.resolve()
        return (refs,) if repo is not None and refs.is_dir() and refs.is_relative_to(repo) and refs != repo else ()

    # -- worker life cycle ------------------------------------------------------------

    def __enter__(self) -> ValidationSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _ensure_worker(self) -> Worker:
        if self._worker is None or not self._worker.alive:
            if self._worker is not None:
                self._worker.close()
            self._worker = Worker(self.worker_options)
            hello = self._worker.start()
            self.environment = Environment(hello.python, hello.torch, hello.devices, hello.executable,
                                           Isolation.from_json(hello.isolation))
        return self._worker

    def start(self) -> Environment:
        """Start the worker (if needed) and return where entry points will run."""
        self._ensure_worker()
        assert self.environment is not None  # set from the worker's hello
        return self.environment

    # -- the repo as a whole -------------------------------------------------------------

    def import_hubconf(self) -> ImportOutcome:
        """Import hubconf once (cached): the repo-level checks and the entry point names."""
        if self._import is not None:
            return self._import
        worker = self._ensure_worker()
        results: list[CheckResult] = []
        # The repo's own timeout bounds the import too: a hubconf that never finishes
        # importing must not hold the run for longer than any entry point may.
        timeout = self.options.timeout or self.config.validate.timeout
        job = ImportJob(str(self.repo.path), str(worker.job_dir() / "cwd"), describe=True)
        run = worker.run(job, timeout, _IMPORT_MESSAGES)
        imported = next((m for m in run.messages if isinstance(m, Imported)), None)
        failure = _import_failure(run, timeout)
        if failure is not None or imported is None:
            results.append(self._repo_result("import", Status.FAILED, failure or "the import reported no entry points"))
            self._import = ImportOutcome(results, [], "hubconf failed to import")
            return self._import
        names = list(imported.names)
        results.append(self._repo_result("import", Status.PASSED,
                                         f"hubconf.py imports the torch.hub way; {_count(len(names), 'entry point')}"))
        blocked = None
        if imported.dependency_error:
            results.append(self._repo_result("dependencies", Status.FAILED, imported.dependency_error))
            blocked = imported.dependency_error
        else:
            results.append(self._repo_result("dependencies", Status.PASSED, "torch.hub's dependency check passes"))
        results.append(self._compare_static(names))
        entries = {entry.name: entry for entry in imported.entries}
        self._import = ImportOutcome(results, names, blocked, entries)
        return self._import

    def _static_model(self) -> tuple[HubconfModel | None, str | None]:
        """hubconf.py read statically, once per session: ``(model, None)``, or ``(None, why it cannot be)``."""
        if self._static is None:
            from hubcheck.static import HubconfUnreadable, read_hubconf

            try:
                self._static = (read_hubconf(self.repo.path), None)
            except HubconfUnreadable as error:
                self._static = (None, error.reason)
        return self._static

    def _parameters(self, name: str) -> tuple[Parameter, ...] | None:
        """The entry point's static parameters, or None when they cannot be read."""
        model = self._static_model()[0]
        entry = model.entrypoint(name) if model is not None else None
        return entry.parameters if entry is not None else None

    @property
    def static_model(self) -> HubconfModel | None:
        """hubconf.py as read statically, or None when it cannot be read."""
        return self._static_model()[0]

    def _compare_static(self, names: list[str]) -> CheckResult:
        model, unreadable = self._static_model()
        if model is None:
            return self._repo_result("entrypoints", Status.SKIPPED, f"no static list to compare: {unreadable}")
        static = {e.name for e in model.entrypoints}
        dynamic = set(names)
        only_dynamic = sorted(dynamic - static)
        only_static = sorted(static - dynamic)
        parts = []
        if only_dynamic:
            parts.append(f"found only at run time (dynamic): {_names(only_dynamic)}")
        if only_static:
            parts.append(f"listed statically but absent at run time: {_names(only_static)}")
        if not parts:
            return self._repo_result("entrypoints", Status.PASSED,
                                     f"the static and the run-time lists agree ({_count(len(names), 'entry point')})")
        note = "" if model.complete else " (the static list is marked incomplete)"
        return self._repo_result("entrypoints", Status.PASSED, "; ".join(parts) + note)

    def _repo_result(self, check: str, status: Status, message: str) -> CheckResult:
        return CheckResult(None, check, None, status, message)

    def selected_entrypoints(self) -> list[str]:
        """Entry point names after --entrypoint / --select-entrypoints / --exclude-entrypoints."""
        model = self._static_model()[0]
        names = self.import_hubconf().names or ([e.name for e in model.entrypoints] if model else [])
        chosen = list(names)
        if self.options.entrypoints:
            unknown = [n for n in self.options.entrypoints if n not in names]
            if unknown:
                close = difflib.get_close_matches(unknown[0], names, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UsageError(f"no entry point {unknown[0]!r} in {self.repo.spec.raw}{hint}")
            chosen = [n for n in chosen if n in self.options.entrypoints]
        leaked = set(self.leaked_entrypoints())
        chosen = [n for n in chosen if n not in leaked]
        if self.options.select_patterns:
            chosen = [n for n in chosen if any(fnmatch.fnmatchcase(n, p) for p in self.options.select_patterns)]
        if self.options.exclude_patterns:
            chosen = [n for n in chosen if not any(fnmatch.fnmatchcase(n, p) for p in self.options.exclude_patterns)]
        unaccepted = unaccepted_kwargs(self.options.overrides, chosen, self._parameters)
        if unaccepted:
            raise UsageError(f"--kwarg {unaccepted[0]}: no selected entry point takes {unaccepted[0]!r} "
                             "(check the spelling against `hubcheck help`)")
        return chosen

    def leaked_entrypoints(self) -> list[str]:
        """Names lint calls leaked (HUB103) that are not named with --entrypoint: listed, but not loaded."""
        model = self._static_model()[0]
        if model is None:
            return []
        return [e.name for e in model.entrypoints if e.leaked and e.name not in self.options.entrypoints]

    def leaked_results(self) -> list[CheckResult]:
        """One skipped ``load`` per leaked name that the selection would otherwise have run, saying why."""
        names = set(self.import_hubconf().names)
        return [
            CheckResult(name, "load", None, Status.SKIPPED, leaked_reason(name))
            for name in self.leaked_entrypoints()
            if name in names and (not self.options.entrypoints) and is_selected(
                name, (), self.options.select_patterns, self.options.exclude_patterns)
        ]

    def config_checks(self, names: list[str]) -> list[CheckResult]:
        """One ``config`` and one ``references`` result: config for entry points that do not exist, references
        whose entry point is gone. Each passes, or fails with every problem, as the plugin's two items do."""
        outcome = self.import_hubconf()
        if any(r.check == "import" and r.status is Status.FAILED for r in outcome.results):
            reason = outcome.blocked_reason or "hubconf did not import"
            return [self._repo_result(check, Status.SKIPPED, reason) for check in ("config", "references")]
        problems = self._config_problems()
        results = []
        for check in ("config", "references"):
            messages = [r.message for r in problems if r.check == check]
            if messages:
                results.append(self._repo_result(check, Status.FAILED, "\n".join(messages)))
            else:
                results.append(self._repo_result(check, Status.PASSED, f"no {check} problems"))
        return results

    def _config_problems(self) -> list[CheckResult]:
        results: list[CheckResult] = []
        known = set(self.import_hubconf().names)
        if not known:
            return results
        for name in sorted(set(self.config.entrypoints) - known):
            if is_glob(name):
                if not any(fnmatch.fnmatchcase(n, name) for n in known):
                    results.append(self._repo_result(
                        "config", Status.FAILED,
                        f"{self.config.source}: [entrypoints.\"{name}\"] matches no entry point of hubconf.py",
                    ))
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            results.append(self._repo_result(
                "config", Status.FAILED,
                f"{self.config.source}: [entrypoints.{name}] configures an entry point hubconf.py does not have{hint}",
            ))
        full_run = not (self.options.entrypoints or self.options.select_patterns or self.options.exclude_patterns)
        refs = self.references_dir
        if full_run and refs.is_dir():
            for directory in sorted(p for p in refs.iterdir() if p.is_dir() and any(p.glob("*.safetensors"))):
                if directory.name not in known:
                    results.append(self._repo_result(
                        "references", Status.FAILED,
                        f"{self._display(directory)} holds references of {directory.name!r}, which hubconf.py no longer "
                        "defines: delete that directory or restore the entry point",
                    ))
        return results

    # -- devices ------------------------------------------------------------------------

    def devices_for(
        self, entry_config: EntrypointConfig, devices: tuple[str, ...] | None = None
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """``(devices to run, [(device, why skipped)])`` for one entry point; ``devices`` overrides every setting."""
        requested = devices or self.options.devices or entry_config.devices or self.config.validate.devices
        present = list(self.environment.devices) if self.environment else ["cpu"]
        run: list[str] = []
        missing: list[tuple[str, str]] = []
        for device in requested:
            candidates: Sequence[str | None]
            if device == "auto":
                candidates = present
            elif device == "cuda":
                candidates = [d for d in present if d.startswith("cuda")][:1] or [None]
            else:
                candidates = [device if device in present else None]
            for candidate in candidates:
                if candidate is None:
                    missing.append((device, _absent_reason(device)))
                elif candidate not in run:
                    run.append(candidate)
        return run, missing

    # -- one entry point ---------------------------------------------------------------

    @property
    def references_dir(self) -> Path:
        return self.options.overrides.references or self.repo.path / self.config.validate.references

    def reference_path(self, entrypoint: str) -> Path:
        """The entry point's reference file (see :func:`reference_file`: it raises ReferencePathRefused)."""
        # --references DIR is the user's own directory: links are kept inside it rather than inside the repo.
        root = self.repo.path if self.options.overrides.references is None else self.references_dir
        return reference_file(root, self.references_dir, entrypoint, REFERENCE_CASE)

    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self.repo.path).as_posix()
        except ValueError:
            return str(path)

    def command(self, *words: str, entrypoint: str | None = None) -> str:
        """A hubcheck command line for this repo, carrying every flag that shaped this run, quoted for a shell;
        for one ``entrypoint`` (``--entrypoint NAME`` is added), only the ``--kwarg`` keys it takes."""
        spec = self.options.spec_for_commands or self.repo.spec.raw
        selection = ["--entrypoint", entrypoint] if entrypoint is not None else []
        return " ".join(["hubcheck", words[0], shlex.quote(spec),
                         *[shlex.quote(w) for w in [*selection, *words[1:], *self.run_flags(entrypoint)]]])

    def run_flags(self, entrypoint: str | None = None) -> list[str]:
        """The flags this run needed, so that a suggested command works as printed (one naming ``entrypoint``
        would be refused with a ``--kwarg`` that entry point does not take)."""
        options = self.options
        overrides = options.overrides
        if entrypoint is not None:
            parameters = self._parameters(entrypoint)
            overrides = replace(overrides, kwargs=tuple((k, v) for k, v in overrides.kwargs if accepts(parameters, k)))
        words = list(overrides.command_flags())
        if options.torch_home is not None:
            words += ["--torch-home", str(options.torch_home)]
        if options.allow_network is not None:
            words.append("--allow-network" if options.allow_network else "--block-network")
        if options.timeout is not None:
            words += ["--timeout", f"{options.timeout:g}"]
        if options.max_memory is not None:
            words += ["--max-memory", options.max_memory]
        if options.python is not None:
            words += ["--python", options.python]
        return words

    def _selection_flags(self) -> list[str]:
        """This run's entry point selection, for a command that records every selected entry point."""
        return ([w for name in self.options.entrypoints for w in ("--entrypoint", name)]
                + [w for glob in self.options.select_patterns for w in ("--select-entrypoints", glob)]
                + [w for glob in self.options.exclude_patterns for w in ("--exclude-entrypoints", glob)])

    def _reference_job(self, name: str) -> ReferenceInfo:
        try:
            path = self.reference_path(name)
        except ReferencePathRefused as refused:
            return ReferenceInfo("", "", False, str(refused), refused.is_fault, "")
        any_references = self.references_dir.is_dir() and any(self.references_dir.glob("*/*.safetensors"))
        if any_references:
            record = self.command("record", entrypoint=name)
            missing = f"no reference for {name!r} ({self._display(path)}): record it with `{record}`"
        else:
            record = self.command("record", *self._selection_flags())
            missing = f"no references recorded: start with `{record}`"
        return ReferenceInfo(
            str(path), self._display(path), path.exists(), missing, any_references or self.options.require_references,
            self.command("record", "--update", entrypoint=name), record,
            self.config.validate.reference_size_limit,
        )

    def expected_checks(self, name: str, devices: tuple[str, ...] | None = None) -> list[tuple[str, str | None]]:
        """Every (check, device) the entry point gets, run or skipped."""
        entry_config = self.config.entrypoint(name)
        to_run, missing = self.devices_for(entry_config, devices)
        expected: list[tuple[str, str | None]] = [("docstring", None)]
        for device in to_run + [d for d, _ in missing]:
            expected += [(check, device) for check in ENTRYPOINT_CHECKS]
            if not device.startswith("cpu"):
                expected += [(check, device) for check in ACCELERATOR_CHECKS]
            expected += [(check, device) for check in self.model_checks]
        return expected

    @property
    def model_checks(self) -> tuple[str, ...]:
        """The model checks this run adds after forward: ``--check``, else ``[validate] checks``, else the defaults."""
        return selected_model_checks(self.options.overrides.checks, self.config.validate.checks)

    def run_entrypoint(
        self, name: str, on_result: OnResult | None = None, devices: tuple[str, ...] | None = None
    ) -> list[CheckResult]:
        """Every check of one entry point on every requested device (``devices`` overrides the options)."""
        self._ensure_worker()
        outcome = self.import_hubconf()
        model = self._static_model()[0]
        static_entry = model.entrypoint(name) if model is not None else None
        described = outcome.entries.get(name)
        line = (static_entry.line if static_entry else None) or (described.line if described else None)
        entry_config = self.config.entrypoint(name)
        expected = self.expected_checks(name, devices)
        results: list[CheckResult] = []

        def add(result: CheckResult) -> None:
            results.append(result)
            if on_result is not None:
                on_result(result)

        def skip_all(reason: str) -> list[CheckResult]:
            for check, device in expected:
                add(CheckResult(name, check, device, Status.SKIPPED, reason, line=line))
            return results

        if outcome.blocked_reason:
            return skip_all(outcome.blocked_reason)
        if entry_config.skip:
            return skip_all(f"skipped by hubcheck.toml: {entry_config.skip}")
        run_devices, missing = self.devices_for(entry_config, devices)
        timeout = self.options.timeout or entry_config.timeout or self.config.validate.timeout
        worker = self._ensure_worker()
        directory = worker.job_dir()
        job = RunJob(
            str(self.repo.path), name, _job_config(entry_config), tuple(run_devices),
            ("docstring", *ENTRYPOINT_CHECKS, *ACCELERATOR_CHECKS, *self.model_checks), str(directory / "cwd"),
            str(directory / "data"),
            reference=self._reference_job(name), commit=self.repo.commit,
            keep_obtained=str(self.options.keep_obtained) if self.options.keep_obtained else None,
        )
        run_expected = [(c, d) for c, d in expected if d is None or d in run_devices]
        try:
            report, (run, judged) = self._run_and_judge(job, timeout, run_expected)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        by_key = {(r.check, r.device): r for r in decide(name, report, judged, run, timeout, line)}
        for device, reason in missing:
            status = Status.FAILED if self.options.require_device else Status.SKIPPED
            text = f"{reason} (--require-device)" if self.options.require_device else reason
            for check, expected_device in expected:
                if expected_device == device:
                    by_key[(check, device)] = CheckResult(name, check, device, status, text, line=line)
        for key in expected:
            add(by_key[key])
        return results

    def _run_and_judge(
        self, job: RunJob, timeout: float, expected: list[tuple[str, str | None]]
    ) -> tuple[ChildReport, tuple[JobRun, JudgeReport]]:
        """Run ``job`` in a fork, then the judge in another: what the child said, its run, what the judge said."""
        worker = self._ensure_worker()
        run = worker.run(job, timeout, _RUN_MESSAGES)
        child = read_child(run, expected, job.devices)
        if not child.outputs:
            return child, (run, JudgeReport({}, None, None))
        if not worker.alive:
            return child, (run, JudgeReport({}, None, f"not judged: {run.death}"))
        judge = JudgeJob(job, tuple(child.ended.values()), tuple(child.outputs), job.cwd)
        # The judge runs hubcheck's own code on files of a known size: the entry point's
        # timeout, but never less than a minute, bounds it.
        return child, (run, read_judge(worker.run(judge, max(timeout, _JUDGE_MIN_TIMEOUT_S), JUDGE_MESSAGES)))

    # -- recording ------------------------------------------------------------------------

    def record_entrypoint(self, name: str, device: str, temporary: Path, existing: Path | None) -> dict[str, Any]:
        """Run one entry point on ``device`` and write its reference to ``temporary``.

        Returns the judge's ``recorded`` event (size, sidecar, output_bytes, existing, existing_note),
        or a failure as a dict with ``error``.
        """
        worker = self._ensure_worker()
        entry_config = self.config.entrypoint(name)
        directory = worker.job_dir()
        job = RunJob(
            str(self.repo.path), name, _job_config(entry_config), (device,), ("record",), str(directory / "cwd"),
            str(directory / "data"), record=RecordSpec(device, REFERENCE_CASE, str(existing) if existing else None),
            commit=self.repo.commit,
        )
        timeout = self.options.timeout or entry_config.timeout or self.config.validate.timeout
        try:
            report, (run, judged) = self._run_and_judge(job, timeout, [("record", device)])
            (result,) = decide(name, report, judged, run, timeout, None)
            if result.status is not Status.PASSED or judged.recorded is None:
                return {"error": result.message}
            shutil.copyfile(directory / "data" / "record.safetensors", temporary)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        recorded = judged.recorded
        return {"size": recorded.size, "sidecar": recorded.sidecar, "output_bytes": recorded.output_bytes,
                "existing": recorded.existing, "existing_note": recorded.existing_note}


def leaked_reason(name: str) -> str:
    """Why a name lint calls leaked is not loaded, as validate's report and the plugin's skipped item say it."""
    return (f"not loaded: {name!r} is an imported helper that torch.hub lists by accident (lint's HUB103), "
            f"not a model; check it anyway with --entrypoint {name} (--hubcheck-entrypoint {name} under pytest)")


def _job_config(entry: EntrypointConfig) -> dict[str, Any]:
    tolerance = {
        "rtol": entry.tolerance.rtol, "atol": entry.tolerance.atol,
        "device": {d: {"rtol": t.rtol, "atol": t.atol} for d, t in entry.device_tolerance.items()},
        "output": {k: {"rtol": t.rtol, "atol": t.atol} for k, t in entry.output_tolerance.items()},
    }
    return {
        "kwargs": entry.kwargs, "device_kwargs": entry.device_kwargs,
        "inputs": [spec.to_json() for spec in entry.inputs] if entry.inputs is not None else None,
        "method": entry.method, "method_kwargs": entry.method_kwargs, "seed": entry.seed, "tolerance": tolerance,
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _absent_reason(device: str) -> str:
    kind = device.partition(":")[0]
    if kind == "cuda":
        return "no CUDA device" if device == "cuda" else f"no CUDA device {device}"
    if kind == "mps":
        return "no MPS device"
    return f"no device {device}"


def _names(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _import_failure(run: JobRun, timeout: float) -> str | None:
    """Why the import check fails, or None when the import's process reported its entry points."""
    errored = next((m for m in run.messages if isinstance(m, Errored)), None)
    problem = next((m for m in run.messages if isinstance(m, ProtocolError)), None)
    if run.timed_out:
        reason = f"timed out after {timeout:g} s while importing hubconf ([validate] timeout or --timeout)"
    elif errored is not None:
        return f"importing hubconf.py failed: {errored.message}"
    elif problem is not None:
        return f"the worker sent {problem} while importing hubconf"
    elif not run.finished:
        reason = f"{run.death} while importing hubconf"
    else:
        return None
    return with_output(reason, run.output)


def validate_repo(
    repo: ResolvedRepo,
    options: ValidateOptions | None = None,
    on_result: OnResult | None = None,
    on_start: Callable[[list[str]], None] | None = None,
    on_entrypoint: Callable[[str], None] | None = None,
) -> Report:
    """Lint and validate every selected entry point; the report ``hubcheck validate`` prints."""
    options = options or ValidateOptions()
    config = load_layered_config(repo.path, options.overrides.config_file)
    findings: tuple = ()
    static_model = None
    if options.lint:
        from hubcheck.lint import lint_repo

        linted = lint_repo(repo.path, config=config)
        findings, static_model = linted.findings, linted.model
    checks: list[CheckResult] = []

    def collect(result: CheckResult) -> None:
        checks.append(result)
        if on_result is not None:
            on_result(result)

    # The session compares the run-time list with the model lint already read.
    with ValidationSession(repo, options, config, static_model=static_model) as session:
        environment = session.start()
        outcome = session.import_hubconf()
        for result in outcome.results:
            collect(result)
        names = session.selected_entrypoints()
        for result in session.config_checks(names):
            collect(result)
        for result in session.leaked_results():
            collect(result)
        if on_start is not None:
            on_start(names)
        for name in names:
            if on_entrypoint is not None:
                on_entrypoint(name)
            session.run_entrypoint(name, collect)
        environment = session.environment or environment
    return Report(command="validate", repo=repo.to_json(), findings=findings, checks=tuple(checks), environment=environment,
                  strict=options.strict)
