"""The generated hub repos the benchmarks need, written into a directory the caller owns."""

from __future__ import annotations

import math
import shutil
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_REPO = REPO_ROOT / "reference_repo"


def copy_reference_repo(target: Path) -> Path:
    """A private copy of reference_repo, so neither side writes bytecode caches into the checkout."""
    shutil.copytree(REFERENCE_REPO, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def lint_repo(target: Path, count: int) -> Path:
    """A lint-clean hubconf.py with ``count`` documented entry points sharing one builder."""
    entries = "\n\n".join(
        textwrap.dedent(f'''\
            def model_{index:04d}(pretrained: bool = False, width: int = {8 + index % 56}):
                """Multi-layer perceptron number {index} of the generated benchmark zoo.

                Args:
                    pretrained: Must be False: this zoo publishes no weights.
                    width: Width of the hidden layer.

                Returns:
                    An ``nn.Sequential`` mapping ``[batch, 16]`` to ``[batch, 4]``.
                """
                return _mlp(width, depth={1 + index % 4}, pretrained=pretrained)
        ''')
        for index in range(count)
    )
    source = _header(f"{count} generated entry points, for timing static analysis.") + textwrap.dedent('''\

        def _mlp(width: int, depth: int, pretrained: bool) -> nn.Sequential:
            if pretrained:
                raise ValueError("this zoo publishes no weights; use pretrained=False")
            layers = [nn.Linear(16, width), nn.ReLU()]
            for _ in range(depth - 1):
                layers += [nn.Linear(width, width), nn.ReLU()]
            return nn.Sequential(*layers, nn.Linear(width, 4))


    ''') + entries
    return _write(target, source, "")


def memory_repo(target: Path, count: int, megabytes: float, leak: bool = False) -> Path:
    """``count`` entry points, each an ``nn.Sequential`` of Linear layers of about ``megabytes`` MB of float32.

    With ``leak``, the first entry point also builds and keeps alive one model per
    entry point (what a repo-level cache that preloads every model does): the control
    that shows the memory measurement sees growth when there is growth. It is all in
    one process because every entry point gets a fresh process: nothing one keeps
    alive can reach the next.
    """
    depth = 4
    width = int(math.sqrt(megabytes * 1e6 / 4 / depth))
    layers = f"nn.Sequential(*[nn.Linear({width}, {width}) for _ in range({depth})])"
    keep = f"    if name == \"model_00\" and not _KEPT:\n        _KEPT.extend({layers} for _ in range({count}))\n" if leak else ""
    builder = (
        # Held by torch, not by hubconf, which torch.hub imports again for every load.
        ("\n_KEPT = vars(torch).setdefault(\"_benchmark_kept\", [])\n\n" if leak else "")
        + "\ndef _model(name: str) -> nn.Sequential:\n"
        f"    model = {layers}\n"
        f"{keep}    return model\n\n\n"
    )
    source = _header(f"{count} generated entry points of about {megabytes:g} MB each.") + builder + "\n\n".join(
        textwrap.dedent(f'''\
            def model_{index:02d}():
                """{depth} Linear layers of {width}x{width} float32 (about {megabytes:g} MB), randomly initialised."""
                return _model("model_{index:02d}")
        ''')
        for index in range(count)
    )
    config = "".join(f"\n[entrypoints.model_{index:02d}]\ninputs = [{{ shape = [2, {width}] }}]\n" for index in range(count))
    return _write(target, source, config)


def cpu_heavy_repo(target: Path, count: int, iterations: int) -> Path:
    """``count`` entry points whose forward burns CPU on one thread: ``iterations`` 256x256 matmuls."""
    source = _header(f"{count} generated CPU-heavy entry points.") + textwrap.dedent(f'''\

        class _Burner(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.weight = nn.Parameter(torch.randn(256, 256) / 16)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                for _ in range({iterations}):
                    x = torch.tanh(x @ self.weight)
                return x


        def _burner() -> _Burner:
            # One thread each, so that two pytest-xdist workers can use two cores.
            torch.set_num_threads(1)
            return _Burner()


    ''') + "\n\n".join(
        textwrap.dedent(f'''\
            def burner_{index:02d}():
                """{iterations} rounds of a 256x256 matmul and tanh on one CPU thread."""
                return _burner()
        ''')
        for index in range(count)
    )
    config = "".join(f"\n[entrypoints.burner_{index:02d}]\ninputs = [{{ shape = [256, 256] }}]\n" for index in range(count))
    return _write(target, source, config)


def dynamic_hub(target: Path, count: int) -> Path:
    """``count`` small entry points that exist only once hubconf has run: ``globals()[name] = partial(...)`` in a
    loop, as fairseq and timm build theirs, so the static list is incomplete and listing needs the import."""
    source = _header(f"{count} entry points built at import time.") + textwrap.dedent(f'''\

        import functools


        def _linear(width: int) -> nn.Linear:
            return nn.Linear(4, width)


        for _index in range({count}):
            _entry = functools.partial(_linear, 2 + _index % 5)
            _entry.__doc__ = f"A linear layer from 4 to {{2 + _index % 5}} features, number {{_index}} of the zoo."
            globals()[f"model_{{_index:04d}}"] = _entry
    ''')
    return _write(target, source, "")


def _header(summary: str) -> str:
    return textwrap.dedent(f'''\
        """Generated by hubcheck's benchmarks: {summary}"""

        import torch
        from torch import nn

        dependencies = ["torch"]

    ''')


def _write(target: Path, hubconf: str, entrypoint_config: str) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    (target / "hubconf.py").write_text(hubconf)
    (target / "hubcheck.toml").write_text(
        '[validate]\ndevices = ["cpu"]\ntimeout = 600\n' + entrypoint_config
    )
    return target


# -- a timm-shaped repo ----------------------------------------------------------------
#
# Built the way timm is (PERF-NOTES: ~280 modules, 4.9 MB of Python): a package whose
# `models/*.py` each define building blocks and model classes, a `default_cfgs` table and
# `@register_model` functions calling a `_create_x(...)` helper that goes through
# `build_model_with_cfg` and `load_state_dict_from_url`; `models/__init__.py` star-imports
# every model module; `layers/` holds the shared blocks; `data/` imports torchvision's
# transforms, as timm's does; hubconf re-exports every model function from `zoo.models`
# by name and declares `dependencies`. One difference from timm, on purpose: each model
# module lists its model functions in a literal `__all__` (timm's `register_model` appends
# them at import time, which no static reader can see), so that the entry points are
# reached through imports rather than through `globals().update(...)`.

_ZOO = "zoo"
_BLOCKS_PER_LAYER_MODULE = 8

_LAYER_BLOCK = '''

class {name}(nn.Module):
    """{title} block: a {kernel}x{kernel} convolution, normalisation and {act}, with an optional residual.

    Args:
        in_chs: Input channels.
        out_chs: Output channels.
        stride: Stride of the convolution.
        drop_path: Probability of dropping the residual branch in training.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, drop_path: float = 0.0) -> None:
        super().__init__()
        padding = get_padding({kernel}, stride)
        self.conv = nn.Conv2d(in_chs, out_chs, {kernel}, stride=stride, padding=padding, bias=False)
        self.norm = nn.BatchNorm2d(out_chs)
        self.act = {act_layer}
        self.drop_path = drop_path
        self.has_skip = stride == 1 and in_chs == out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv(x)
        x = self.norm(x)
        x = self.act(x)
        if self.has_skip:
            if self.training and self.drop_path > 0.0:
                keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop_path
                x = x * keep / (1.0 - self.drop_path)
            x = x + shortcut
        return x

    def extra_repr(self) -> str:
        return f"kernel={kernel}, has_skip={{self.has_skip}}, drop_path={{self.drop_path}}"


def {function}(x: torch.Tensor, scale: float = {scale}, inplace: bool = False) -> torch.Tensor:
    """{title} activation helper: ``x * sigmoid(scale * x)``, clamped for numerical safety."""
    if inplace:
        return x.mul_(torch.sigmoid(x * scale).clamp_(min=1e-6))
    return x * torch.sigmoid(x * scale).clamp(min=1e-6)
'''

_MODEL_CLASS = '''

class {block}(nn.Module):
    """The {arch} stage block: {layers_text}.

    Args:
        in_chs: Input channels.
        mid_chs: Channels inside the block.
        stride: Stride of the first convolution.
        act_layer: Activation module class.
        norm_layer: Normalisation module class.
    """

    expansion = {expansion}

    def __init__(
            self,
            in_chs: int,
            mid_chs: int,
            stride: int = 1,
            act_layer: Callable[..., nn.Module] = nn.ReLU,
            norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
            drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        out_chs = mid_chs * self.expansion
        self.conv1 = nn.Conv2d(in_chs, mid_chs, kernel_size=1, bias=False)
        self.bn1 = norm_layer(mid_chs)
        self.act1 = act_layer(inplace=True)
        self.conv2 = nn.Conv2d(mid_chs, mid_chs, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = norm_layer(mid_chs)
        self.act2 = act_layer(inplace=True)
        self.conv3 = nn.Conv2d(mid_chs, out_chs, kernel_size=1, bias=False)
        self.bn3 = norm_layer(out_chs)
        self.mix = {layer}(out_chs, out_chs)
        self.drop_path_rate = drop_path_rate
        if stride != 1 or in_chs != out_chs:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_chs, out_chs, kernel_size=1, stride=stride, bias=False),
                norm_layer(out_chs),
            )
        else:
            self.downsample = None
        self.act3 = act_layer(inplace=True)

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        x = self.mix(x)
        if self.downsample is not None:
            shortcut = self.downsample(shortcut)
        x = x + shortcut
        return self.act3(x)


class {block}Attention(nn.Module):
    """Multi-head self-attention over the spatial positions of a feature map, as the {arch} hybrids use.

    Args:
        dim: Channels of the feature map.
        num_heads: Attention heads; ``dim`` must be divisible by it.
        qkv_bias: Add a bias to the query, key and value projection.
        attn_drop: Dropout on the attention weights.
        proj_drop: Dropout after the output projection.
    """

    def __init__(
            self,
            dim: int,
            num_heads: int = 8,
            qkv_bias: bool = False,
            attn_drop: float = 0.0,
            proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {{dim}} is not divisible by num_heads {{num_heads}}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        qkv = self.qkv(tokens).reshape(batch, height * width, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        attn = self.attn_drop(attn)
        out = (attn @ v).transpose(1, 2).reshape(batch, height * width, channels)
        out = self.proj_drop(self.proj(out))
        return out.transpose(1, 2).reshape(batch, channels, height, width)

    def flops(self, height: int, width: int) -> int:
        tokens = height * width
        dim = self.num_heads * self.head_dim
        return 3 * tokens * dim * dim + 2 * tokens * tokens * dim + tokens * dim * dim


class {arch_class}(nn.Module):
    """{arch} image classifier: a stem, four stages of :class:`{block}` and a pooled linear head.

    Args:
        layers: Number of blocks in each of the four stages.
        num_classes: Number of classes of the head; 0 removes it.
        in_chans: Input image channels.
        width: Channels of the first stage.
        drop_rate: Dropout before the head.
        drop_path_rate: Stochastic depth rate, spread linearly over the blocks.
    """

    def __init__(
            self,
            layers: Sequence[int] = (2, 2, 2, 2),
            num_classes: int = 1000,
            in_chans: int = 3,
            width: int = 64,
            drop_rate: float = 0.0,
            drop_path_rate: float = 0.0,
            act_layer: Callable[..., nn.Module] = nn.ReLU,
            norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, width, kernel_size=7, stride=2, padding=3, bias=False),
            norm_layer(width),
            act_layer(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages = []
        in_chs = width
        total = sum(layers)
        index = 0
        for stage, depth in enumerate(layers):
            mid_chs = width * 2 ** stage
            blocks = []
            for block in range(depth):
                rate = drop_path_rate * index / max(total - 1, 1)
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append({block}(in_chs, mid_chs, stride, act_layer, norm_layer, rate))
                in_chs = mid_chs * {block}.expansion
                index += 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = in_chs
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_chs, num_classes) if num_classes else nn.Identity()
        self.init_weights()

    def init_weights(self) -> None:
        for name, module in self.named_modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)
            elif isinstance(module, {block}):
                module.zero_init_last()

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.stages(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x).flatten(1)
        if self.drop_rate:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def checkpoint_filter_fn(state_dict: Dict[str, torch.Tensor], model: nn.Module) -> Dict[str, torch.Tensor]:
    """Convert a checkpoint of the original {arch} implementation to this module's names and shapes."""
    if "model" in state_dict:
        state_dict = state_dict["model"]
    if "state_dict" in state_dict:
        state_dict = state_dict["state_dict"]
    out: Dict[str, torch.Tensor] = {{}}
    own = model.state_dict()
    for key, value in state_dict.items():
        key = key.replace("module.", "", 1) if key.startswith("module.") else key
        key = key.replace("layer", "stages.", 1) if key.startswith("layer") else key
        key = key.replace("downsample.0", "downsample.0").replace("head.", "fc.")
        if key.startswith("conv1.") or key.startswith("bn1."):
            key = "stem." + ("0." if key.startswith("conv1.") else "1.") + key.split(".", 1)[1]
        if key in own and own[key].shape != value.shape:
            if value.ndim == 4 and own[key].ndim == 4 and value.shape[2:] != own[key].shape[2:]:
                value = F.interpolate(value, size=own[key].shape[2:], mode="bicubic", align_corners=False)
            elif key.startswith("fc."):
                continue
        out[key] = value
    return out


def _create_{arch}(variant: str, pretrained: bool = False, **kwargs: Any) -> {arch_class}:
    return build_model_with_cfg({arch_class}, variant, pretrained, default_cfgs, **kwargs)


def _cfg(url: str = "", **kwargs: Any) -> Dict[str, Any]:
    return {{
        "url": url,
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.875,
        "interpolation": "bilinear",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.0",
        "classifier": "fc",
        **kwargs,
    }}
'''

_VARIANT_CFG = '''\
    "{variant}.a1_in1k": _cfg(
        url="https://weights.example.invalid/{arch}/{variant}_a1_in1k-{digest}.pth",
        crop_pct={crop}, test_input_size=(3, {test_size}, {test_size}), license="apache-2.0",
    ),
    "{variant}.a2_in1k": _cfg(
        url="https://weights.example.invalid/{arch}/{variant}_a2_in1k-{digest}.pth",
        crop_pct=0.95, test_input_size=(3, {test_size}, {test_size}), test_crop_pct=1.0, license="apache-2.0",
    ),
    "{variant}.tv_in1k": _cfg(
        url="https://weights.example.invalid/{arch}/{variant}_tv_in1k-{digest}.pth",
        interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), license="bsd-3-clause",
    ),
'''

_VARIANT = '''

@register_model
def {variant}(pretrained: bool = False, **kwargs: Any) -> {arch_class}:
    """{arch_title} with stages of {layers} blocks, width {width}.

    Args:
        pretrained: Load the ImageNet-1k weights from the model's default configuration.
        **kwargs: Passed on to :class:`{arch_class}` (``num_classes``, ``drop_path_rate``...).
    """
    model_args = dict(layers={layers}, width={width}, drop_path_rate={drop})
    return _create_{arch}("{variant}", pretrained=pretrained, **dict(model_args, **kwargs))
'''

_REGISTRY = '''\
"""The model registry: every `@register_model` function by name, and what module defined it."""

import fnmatch
import sys
from collections import defaultdict
from typing import Any, Callable, Dict, List, Set

__all__ = ["register_model", "generate_default_cfgs", "list_models", "is_model", "model_entrypoint"]

_model_entrypoints: Dict[str, Callable[..., Any]] = {}
_model_to_module: Dict[str, str] = {}
_module_to_models: Dict[str, Set[str]] = defaultdict(set)
_model_default_cfgs: Dict[str, Dict[str, Any]] = {}


def generate_default_cfgs(cfgs: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """The configurations by model name: the first tag of each model is its default."""
    out: Dict[str, Dict[str, Any]] = {}
    for name, cfg in cfgs.items():
        model, _, tag = name.partition(".")
        out.setdefault(model, dict(cfg, tag=tag))
    return out


def register_model(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Record a model function under its name; returns it unchanged."""
    module_name = fn.__module__.split(".")[-1]
    _model_entrypoints[fn.__name__] = fn
    _model_to_module[fn.__name__] = module_name
    _module_to_models[module_name].add(fn.__name__)
    module = sys.modules[fn.__module__]
    cfgs = getattr(module, "default_cfgs", {})
    if fn.__name__ in cfgs:
        _model_default_cfgs[fn.__name__] = cfgs[fn.__name__]
    return fn


def list_models(pattern: str = "") -> List[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    return sorted(n for n in _model_entrypoints if not pattern or fnmatch.fnmatch(n, pattern))


def is_model(name: str) -> bool:
    return name in _model_entrypoints


def model_entrypoint(name: str) -> Callable[..., Any]:
    return _model_entrypoints[name]
'''

_BUILDER = '''\
"""Build a model from its class and configuration, loading pretrained weights when asked."""

from typing import Any, Callable, Dict

import torch
from torch import nn
from torch.hub import load_state_dict_from_url

__all__ = ["build_model_with_cfg", "load_pretrained"]


def load_pretrained(model: nn.Module, cfg: Dict[str, Any], strict: bool = True) -> None:
    """Download the configuration's weights (cached by torch.hub) and load them into ``model``."""
    state_dict = load_state_dict_from_url(cfg["url"], map_location="cpu", progress=False, check_hash=True)
    if cfg.get("num_classes", 1000) != getattr(model, "num_classes", 1000):
        state_dict.pop(cfg["classifier"] + ".weight", None)
        state_dict.pop(cfg["classifier"] + ".bias", None)
        strict = False
    model.load_state_dict(state_dict, strict=strict)


def build_model_with_cfg(
        model_cls: Callable[..., nn.Module],
        variant: str,
        pretrained: bool,
        default_cfgs: Dict[str, Dict[str, Any]],
        **kwargs: Any,
) -> nn.Module:
    """``model_cls(**kwargs)``, with the weights of ``default_cfgs[variant]`` when ``pretrained``."""
    model = model_cls(**kwargs)
    model.pretrained_cfg = default_cfgs.get(variant, {})
    if pretrained:
        load_pretrained(model, model.pretrained_cfg)
    return model
'''


def timm_like_repo(target: Path, model_modules: int, entrypoints: int, layer_modules: int) -> Path:
    """A repo shaped like timm: ``model_modules`` model modules holding ``entrypoints`` registered
    model functions between them, ``layer_modules`` modules of building blocks, and a hubconf that
    re-exports every model function from the models package. Every file is real Python that torch.hub can import."""
    package = target / _ZOO
    for directory in (package / "layers", package / "models", package / "data"):
        directory.mkdir(parents=True, exist_ok=True)
    layer_names = _write_layers(package / "layers", layer_modules)
    _write_data(package / "data")
    (package / "models" / "_registry.py").write_text(_REGISTRY)
    (package / "models" / "_builder.py").write_text(_BUILDER)
    counts = [entrypoints // model_modules + (1 if index < entrypoints % model_modules else 0)
              for index in range(model_modules)]
    archs = [_write_model_module(package / "models", index, count, layer_names) for index, count in enumerate(counts)]
    (package / "models" / "__init__.py").write_text(
        '"""Every model architecture; `from zoo.models import *` brings every model function."""\n\n'
        + "".join(f"from .{arch} import *\n" for arch in archs)
        + "from ._builder import build_model_with_cfg, load_pretrained\n"
        + "from ._registry import is_model, list_models, model_entrypoint, register_model\n"
    )
    (package / "__init__.py").write_text(
        f'"""A generated model zoo shaped like timm."""\n\n__version__ = "0.{model_modules}.{entrypoints}"\n\n'
        "from .models import is_model, list_models, model_entrypoint\n"
    )
    names = [f"{arch}_v{number:02d}" for arch, count in zip(archs, counts, strict=True) for number in range(count)]
    hubconf = (
        f'"""Generated by hubcheck\'s benchmarks: a timm-shaped zoo of {entrypoints} models in {model_modules} '
        'modules."""\n\ndependencies = ["torch", "torchvision"]\n\n'
        "from zoo.models import (  # every model function is an entry point\n"
        + "".join(f"    {name},\n" for name in names) + ")\n"
    )
    return _write(target, hubconf, "")


def _write_layers(directory: Path, count: int) -> list[tuple[str, str]]:
    """``count`` modules of blocks; returns ``(module, block class)`` for the model modules to use."""
    acts = ("nn.ReLU(inplace=True)", "nn.GELU()", "nn.SiLU(inplace=True)", "nn.Hardswish()")
    names: list[tuple[str, str]] = []
    for index in range(count):
        module = f"block{index:03d}"
        blocks = []
        for variant in range(_BLOCKS_PER_LAYER_MODULE):
            number = index * _BLOCKS_PER_LAYER_MODULE + variant
            blocks.append(_LAYER_BLOCK.format(
                name=f"ConvBlock{number:03d}", function=f"scaled_swish{number:03d}", title=f"Generated {number}",
                kernel=(1, 3, 5, 7)[number % 4], act=acts[number % 4].split("(")[0],
                act_layer=acts[number % 4], scale=1.0 + number % 7 / 10,
            ))
            names.append((module, f"ConvBlock{number:03d}"))
        (directory / f"{module}.py").write_text(
            f'"""Building blocks {index * _BLOCKS_PER_LAYER_MODULE} to {(index + 1) * _BLOCKS_PER_LAYER_MODULE - 1}."""\n\n'
            "import torch\nfrom torch import nn\n\n"
            "from .padding import get_padding\n\n"
            f"__all__ = [{', '.join(repr(n) for _, n in names[-_BLOCKS_PER_LAYER_MODULE:])}]\n" + "".join(blocks)
        )
    (directory / "padding.py").write_text(
        '"""Padding that keeps the spatial size of a stride-1 convolution."""\n\n\n'
        "def get_padding(kernel_size: int, stride: int = 1, dilation: int = 1) -> int:\n"
        '    """Symmetric padding of a convolution: ``((stride - 1) + dilation * (kernel_size - 1)) // 2``."""\n'
        "    return ((stride - 1) + dilation * (kernel_size - 1)) // 2\n"
    )
    (directory / "__init__.py").write_text(
        '"""Building blocks shared by the models."""\n\nfrom .padding import get_padding\n'
        + "".join(f"from .{module} import {name}\n" for module, name in names)
    )
    return names


def _write_data(directory: Path) -> None:
    # timm.data imports torchvision's transforms, so `import timm` pays for torchvision too.
    (directory / "constants.py").write_text(
        '"""Normalisation constants of the datasets the weights were trained on."""\n\n'
        "IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)\nIMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)\n"
    )
    (directory / "transforms.py").write_text(textwrap.dedent('''\
        """Evaluation transforms built from a model's pretrained configuration."""

        from typing import Any, Dict

        from torchvision import transforms

        from .constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD


        def create_transform(cfg: Dict[str, Any]) -> transforms.Compose:
            """Resize, center-crop, to-tensor and normalise, as the configuration says."""
            size = cfg.get("input_size", (3, 224, 224))[-1]
            crop_pct = cfg.get("crop_pct", 0.875)
            return transforms.Compose([
                transforms.Resize(int(size / crop_pct)),
                transforms.CenterCrop(size),
                transforms.ToTensor(),
                transforms.Normalize(cfg.get("mean", IMAGENET_DEFAULT_MEAN), cfg.get("std", IMAGENET_DEFAULT_STD)),
            ])
    '''))
    (directory / "__init__.py").write_text(
        '"""Data configuration."""\n\nfrom .constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD\n'
        "from .transforms import create_transform\n"
    )


def _write_model_module(directory: Path, index: int, count: int, layer_names: list[tuple[str, str]]) -> str:
    arch = f"arch{index:03d}"
    arch_class = f"Arch{index:03d}Net"
    layer_module, layer = layer_names[index % len(layer_names)]
    variants = [f"{arch}_v{number:02d}" for number in range(count)]
    configs, functions = [], []
    for number, variant in enumerate(variants):
        layers = [1 + (number + stage) % 4 for stage in range(4)]
        width = 32 * (1 + number % 4)
        configs.append(_VARIANT_CFG.format(variant=variant, arch=arch, digest=f"{index * 1000 + number:08x}",
                                           crop=0.875 + number % 3 * 0.025, test_size=224 + 32 * (number % 3)))
        functions.append(_VARIANT.format(variant=variant, arch=arch, arch_class=arch_class,
                                         arch_title=f"Architecture {index}", layers=layers, width=width,
                                         drop=number % 3 / 10))
    header = textwrap.dedent(f'''\
        """Architecture {index} of the generated zoo: {count} registered variants.

        Each variant differs in depth and width; weights are described in ``default_cfgs``.
        """

        from typing import Any, Callable, Dict, Sequence

        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        from {_ZOO}.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
        from {_ZOO}.layers.{layer_module} import {layer}
        from ._builder import build_model_with_cfg
        from ._registry import generate_default_cfgs, register_model

        __all__ = [{", ".join(repr(v) for v in variants)}]
    ''')
    body = _MODEL_CLASS.format(
        arch=arch, arch_class=arch_class, block=f"Arch{index:03d}Block", layer=layer,
        layers_text="1x1, 3x3 and 1x1 convolutions with a residual", expansion=1 + index % 4,
    )
    source = (header + body + "\n\ndefault_cfgs = generate_default_cfgs({\n" + "".join(configs) + "})\n"
              + "".join(functions))
    (directory / f"{arch}.py").write_text(source)
    return arch
