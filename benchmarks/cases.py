"""The benchmark cases: for each, hubcheck's figure, the baseline's, and the target for their ratio."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import generate
from measure import BENCHMARKS_DIR, Command, alternate, hubcheck_command, median, peak_rss_mb
from model_checks import model_checks
from scale_cases import collection, throughput

# torch.hub's own import and list rule, as `python -c` runs it (torch.hub.list takes only GitHub repos in 2.14).
HUB_LIST = (
    "import os, sys, torch.hub\n"
    "repo = sys.argv[1]\n"
    "with torch.hub._add_to_sys_path(repo):\n"
    "    module = torch.hub._import_module('hubconf.py', os.path.join(repo, 'hubconf.py'))\n"
    "print([f for f in dir(module) if callable(getattr(module, f)) and not f.startswith('_')])\n"
)


@dataclass(frozen=True)
class Settings:
    """How big each case is; ``--quick`` shrinks them so CI's smoke run stays short."""

    rounds: int
    lint_entrypoints: int = 1000
    memory_small: int = 5
    memory_large: int = 50
    memory_mb: float = 50.0
    scaleout_entrypoints: int = 16
    scaleout_iterations: int = 1600
    """256x256 matmuls per forward call: about 1 s of one core on the reference machine."""
    memory_rounds: int | None = None
    """Rounds of the memory case (peak memory varies little, and its rounds are long); None uses ``rounds``."""
    scaleout_rounds: int | None = None
    """Rounds of the scale-out case (its rounds are the longest); None uses ``rounds``."""
    reference_mb: float = 100.0
    large_model_modules: int = 200
    """Model modules of the timm-shaped repo (plus ~90 modules of layers, data and helpers)."""
    large_entrypoints: int = 1200
    large_layer_modules: int = 80
    large_rounds: int | None = None
    """Rounds of the two large-repo cases (each baseline run imports torch and torchvision); None uses ``rounds``."""
    collection_entrypoints: int = 1500
    """Entry points of the dynamic hub whose pytest collection is timed (timm's size)."""
    throughput_entrypoints: int = 200
    throughput_small: int = 50
    """The smaller hub of the per-entry-point cost: (time of the large - of the small) / the difference."""
    scale_rounds: int | None = None
    """Rounds of the collection and throughput cases (a -n 0 round of 200 entry points takes about a minute); None
    uses ``rounds``."""
    scale_warmup: bool = True


FULL = Settings(rounds=5, memory_rounds=3, scaleout_rounds=3, scale_rounds=2)
QUICK = Settings(rounds=2, memory_small=2, memory_large=8, memory_mb=20.0, scaleout_entrypoints=4,
                 scaleout_iterations=100, scaleout_rounds=1, large_model_modules=20, large_entrypoints=200,
                 large_layer_modules=8, large_rounds=1, collection_entrypoints=200, throughput_entrypoints=6,
                 throughput_small=2, scale_rounds=1, scale_warmup=False)


@dataclass
class CaseResult:
    """One row of the table: both figures, their ratio, and whether it meets the target."""

    case: str
    unit: str
    target: float
    """Largest acceptable hubcheck / baseline ratio."""
    target_text: str
    hubcheck_command: str
    baseline_command: str
    hubcheck: float | None = None
    baseline: float | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    extra_ok: bool = True
    """A second condition of the target (lint's absolute time, the memory control)."""
    notes: list[str] = field(default_factory=list)
    status: str = "NOT RUN"
    """PASS, MISS, NOT RUN (with the reason in notes) or ERROR."""

    @property
    def ratio(self) -> float | None:
        if self.hubcheck is None or not self.baseline:
            return None
        return self.hubcheck / self.baseline

    def finish(self, hubcheck: list[float], baseline: list[float], cpu: tuple[list[float], list[float]] | None = None,
               ) -> CaseResult:
        self.samples = {"hubcheck": _rounded(hubcheck), "baseline": _rounded(baseline)}
        self.hubcheck, self.baseline = median(hubcheck), median(baseline)
        self.judge()
        if cpu is not None:
            self.samples.update(hubcheck_cpu=_rounded(cpu[0]), baseline_cpu=_rounded(cpu[1]))
            self.notes.append(f"CPU time (user + system, all processes), median: hubcheck {median(cpu[0]):.3f} s, "
                              f"baseline {median(cpu[1]):.3f} s")
        return self

    def judge(self) -> None:
        self.status = "PASS" if self.ratio <= self.target and self.extra_ok else "MISS"

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case, "status": self.status, "unit": self.unit,
            "hubcheck": self.hubcheck, "baseline": self.baseline, "ratio": self.ratio,
            "target": self.target, "target_text": self.target_text,
            "hubcheck_command": self.hubcheck_command, "baseline_command": self.baseline_command,
            "samples": self.samples, "notes": self.notes,
        }


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 4) for v in values]


@dataclass(frozen=True)
class Context:
    settings: Settings
    workdir: Path
    """A temporary directory for generated repos; removed after the run."""

    def timed(self, result: CaseResult, hubcheck: Command, baseline: Command, rounds: int | None = None,
              warmup: bool = True) -> CaseResult:
        """``result`` finished with the wall and CPU times of the two commands, alternating."""
        first, second = alternate(hubcheck.timed, baseline.timed, rounds or self.settings.rounds, warmup)
        return result.finish([w for w, _ in first], [w for w, _ in second],
                             ([c for _, c in first], [c for _, c in second]))

    @property
    def cold_cache(self) -> Path:
        """A hubcheck cache emptied before every run of the commands given it (``HUBCHECK_CACHE``)."""
        return self.workdir / "cold-cache"

    def cold(self, argv: tuple[str, ...], ok_codes: tuple[int, ...] = (0,)) -> Command:
        """``argv`` run with an empty hubcheck cache every time."""
        return Command(argv, env={"HUBCHECK_CACHE": str(self.cold_cache)}, ok_codes=ok_codes,
                       emptied=self.cold_cache)

    def large_repo(self) -> Path:
        """The timm-shaped repo, generated once per run."""
        settings = self.settings
        target = self.workdir / f"timm_like_{settings.large_model_modules}_{settings.large_entrypoints}"
        if not target.exists():
            generate.timm_like_repo(target, settings.large_model_modules, settings.large_entrypoints,
                                    settings.large_layer_modules)
        return target

    def reference_repo(self) -> Path:
        target = self.workdir / "reference_repo"
        if not target.exists():
            generate.copy_reference_repo(target)
        return target


def _shown(command: Command) -> str:
    words = [Path(w).name if i == 0 else w for i, w in enumerate(command.argv)]
    return " ".join(w if "\n" not in w else "'<torch.hub import and list>'" for w in words)


def startup(context: Context) -> CaseResult:
    hubcheck = Command(hubcheck_command("--help"))
    baseline = Command((sys.executable, "-c", "import torch"))
    result = CaseResult("startup", "s", 0.1, "<= 0.1x", _shown(hubcheck), _shown(baseline))
    return context.timed(result, hubcheck, baseline)


def static_list(context: Context) -> CaseResult:
    repo = context.reference_repo()
    hubcheck = Command(hubcheck_command("list", str(repo)))
    baseline = Command((sys.executable, "-c", HUB_LIST, str(repo)))
    result = CaseResult("static list, reference_repo", "s", 0.2, "<= 0.2x", _shown(hubcheck), _shown(baseline))
    return context.timed(result, hubcheck, baseline)


def static_lint(context: Context) -> CaseResult:
    count = context.settings.lint_entrypoints
    repo = generate.lint_repo(context.workdir / f"lint_{count}", count)
    hubcheck = context.cold(hubcheck_command("lint", str(repo)), ok_codes=(0, 1))
    baseline = Command((sys.executable, "-c", HUB_LIST, str(repo)))
    result = CaseResult(f"static lint, {count} entry points", "s", 0.2, "<= 0.2x and lint < 1 s",
                        _shown(hubcheck), _shown(baseline))
    context.timed(result, hubcheck, baseline)
    result.extra_ok = result.hubcheck < 1.0
    result.notes.insert(0, f"hubcheck lint median {result.hubcheck:.3f} s (target < 1 s)")
    result.judge()
    return result


def _tree_size(repo: Path) -> str:
    sources = list(repo.rglob("*.py"))
    megabytes = sum(path.stat().st_size for path in sources) / 1e6
    return f"{len(sources)} modules, {megabytes:.1f} MB"


def large_lint_cold(context: Context) -> CaseResult:
    settings = context.settings
    repo = context.large_repo()
    hubcheck = context.cold(hubcheck_command("lint", str(repo)), ok_codes=(0, 1))
    # -B: no bytecode is written, so every import compiles the repo, as the first import of a fresh clone does.
    baseline = Command((sys.executable, "-B", "-c", HUB_LIST, str(repo)))
    result = CaseResult(f"large lint cold, timm-shaped, {_tree_size(repo)}, {settings.large_entrypoints} entry points",
                        "s", 0.2, "<= 0.2x", _shown(hubcheck) + " (empty cache)", _shown(baseline))
    context.timed(result, hubcheck, baseline, settings.large_rounds)
    result.notes.insert(0, "both sides cold: hubcheck with an empty cache, the import with no bytecode written yet")
    return result


def large_lint_warm(context: Context) -> CaseResult:
    settings = context.settings
    repo = context.large_repo()
    cache = {"HUBCHECK_CACHE": str(context.workdir / "warm-cache")}
    hubcheck = Command(hubcheck_command("lint", str(repo)), env=cache, ok_codes=(0, 1))
    # Its own copy, so that the bytecode this side writes never reaches the cold case's import.
    copy = context.workdir / f"{repo.name}_imported"
    if not copy.exists():
        shutil.copytree(repo, copy)
    baseline = Command((sys.executable, "-c", HUB_LIST, str(copy)), env={"PYTHONDONTWRITEBYTECODE": ""})
    result = CaseResult(f"large lint warm, timm-shaped, {_tree_size(repo)}, {settings.large_entrypoints} entry points",
                        "s", 0.1, "<= 0.1x", _shown(hubcheck) + " (repeat run)", _shown(baseline))
    context.timed(result, hubcheck, baseline, settings.large_rounds)
    result.notes.insert(0, "both sides warm: hubcheck's cache filled by the warm-up run, the repo's bytecode "
                           "written by the import's warm-up")
    result.notes.append(_reference_lint_times(context))
    return result


def _reference_lint_times(context: Context) -> str:
    """reference_repo's cold and warm lint times, for the notes: the small repo's view of the cache."""
    repo = str(context.reference_repo())
    cold = context.cold(hubcheck_command("lint", repo), ok_codes=(0, 1))
    warm = Command(hubcheck_command("lint", repo), env={"HUBCHECK_CACHE": str(context.workdir / "warm-cache")},
                   ok_codes=(0, 1))
    cold_times, warm_times = alternate(cold.wall_time, warm.wall_time, context.settings.rounds)
    return f"reference_repo: lint cold {median(cold_times):.3f} s, warm {median(warm_times):.3f} s (median wall)"


def validate(context: Context) -> CaseResult:
    repo = context.reference_repo()
    hubcheck = Command(hubcheck_command("validate", str(repo), "--device", "cpu"))
    baseline = Command((sys.executable, str(BENCHMARKS_DIR / "bare_validate.py"), str(repo), json.dumps(_bare_spec(repo))))
    result = CaseResult("validate, reference_repo, CPU", "s", 1.25, "<= 1.25x", _shown(hubcheck),
                        f"python bare_validate.py {repo.name} SPEC")
    return context.timed(result, hubcheck, baseline)


def _bare_spec(repo: Path) -> dict[str, Any]:
    """What bare_validate.py needs to check each entry point as hubcheck.toml says."""
    from hubcheck.config import load_config

    config = load_config(repo)
    spec = {}
    for name, entry in config.entrypoints.items():
        inputs = [item.to_json() for item in entry.inputs or ()]
        if not inputs or any(i["dtype"] != "float32" or i["distribution"] != "normal" or i["seed"] is not None
                             for i in inputs):
            raise ValueError(f"bare_validate.py makes float32 normal inputs only; {name} declares {inputs}")
        spec[name] = {
            "kwargs": {**entry.kwargs, **entry.device_kwargs.get("cpu", {})}, "method": entry.method,
            "method_kwargs": entry.method_kwargs, "inputs": inputs, "seed": entry.seed,
            "rtol": entry.tolerance.rtol, "atol": entry.tolerance.atol,
        }
    return spec


def memory(context: Context) -> CaseResult:
    settings = context.settings
    small, large, mb = settings.memory_small, settings.memory_large, settings.memory_mb

    def peak(count: int, leak: bool = False) -> Callable[[], float]:
        name = f"memory_{count}x{mb:g}mb" + ("_leak" if leak else "")
        repo = generate.memory_repo(context.workdir / name, count, mb, leak=leak)
        return lambda: peak_rss_mb(Command(hubcheck_command("validate", str(repo), "--device", "cpu")))

    result = CaseResult(
        f"memory, {small} vs {large} entry points of {mb:g} MB", "MB", 1.2,
        f"{large}-entry peak <= 1.2x {small}-entry", f"peak RSS, hubcheck validate ({large} entry points)",
        f"peak RSS, hubcheck validate ({small} entry points)",
    )
    large_mb, small_mb = alternate(peak(large), peak(small), settings.memory_rounds or settings.rounds, warmup=False)
    # The control: a repo whose first entry point keeps one model per entry point alive must show that growth.
    leak_large, leak_small = peak(large, leak=True)(), peak(small, leak=True)()
    kept = (large - small) * mb
    grown = leak_large - leak_small
    result.extra_ok = grown >= 0.75 * kept
    result.notes.append(
        f"leak control: one entry point keeping {small} -> {large} models: {leak_small:.0f} -> {leak_large:.0f} MB "
        f"(+{grown:.0f} MB for {kept:.0f} MB kept alive): the measurement "
        + ("sees the growth" if result.extra_ok else "does NOT see the growth; the figures are not trustworthy")
    )
    return result.finish(large_mb, small_mb)


def _plugin_missing() -> str | None:
    """Why ``pytest --hubcheck`` cannot run here, or None."""
    completed = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True)
    if "--hubcheck-timeout" not in completed.stdout:
        return "the pytest plugin is not installed or not finished (`pytest --help` lists no --hubcheck-timeout)"
    import importlib.util

    if importlib.util.find_spec("xdist") is None:
        return "pytest-xdist is not installed"
    return None


def scale_out(context: Context) -> CaseResult:
    settings = context.settings
    count, iterations = settings.scaleout_entrypoints, settings.scaleout_iterations
    repo = generate.cpu_heavy_repo(context.workdir / f"cpu_heavy_{count}", count, iterations)

    def pytest(workers: str) -> Command:
        return Command((sys.executable, "-m", "pytest", "--hubcheck", str(repo), "-n", workers, "-q",
                        "-p", "no:cacheprovider"), cwd=context.workdir)

    hubcheck, baseline = pytest("2"), pytest("0")
    result = CaseResult(f"scale-out, {count} CPU-heavy entry points", "s", 0.6, "<= 0.6x",
                        "pytest --hubcheck -n 2", "pytest --hubcheck -n 0")
    missing = _plugin_missing()
    if missing:
        result.notes.append(f"not run: {missing}")
        return result
    result.notes.append(f"each forward call runs {iterations} 256x256 matmuls on one thread")
    # No warm-up: the earlier cases filled the page cache, and each round takes minutes.
    return context.timed(result, hubcheck, baseline, settings.scaleout_rounds, warmup=False)


def reference_compare(context: Context) -> CaseResult:
    mb = context.settings.reference_mb
    directory = context.workdir / "reference_compare"
    directory.mkdir()
    command = Command((sys.executable, str(BENCHMARKS_DIR / "reference_compare.py"), f"{mb:g}",
                       str(context.settings.rounds), str(directory)))
    result = CaseResult(f"reference compare, {mb:g} MB of outputs", "s", 2.0, "<= 2x incl. safetensors read",
                        "read_reference + compare", "torch.testing.assert_close (in memory)")
    samples = json.loads(command.run().stdout)
    return result.finish(samples["hubcheck"], samples["baseline"])


CASES: dict[str, Callable[[Context], CaseResult]] = {
    "startup": startup,
    "list": static_list,
    "lint": static_lint,
    "lint-large": large_lint_cold,
    "lint-repeat": large_lint_warm,
    "validate": validate,
    "memory": memory,
    "scale-out": scale_out,
    "reference": reference_compare,
    "collection": collection,
    "throughput": throughput,
    "model-checks": model_checks,
}
