"""Design configuration: a YAML file checked against a schema.

An unknown key or a bad value raises ``ConfigError`` naming the key and what is allowed.
Sections are hashed separately so the flow re-runs exactly the steps a change affects.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG = Path(__file__).parent / "designs" / "default.yaml"


class ConfigError(ValueError):
    """A design configuration that does not fit the schema."""


class Section(BaseModel):
    # strict: a boolean is not a number, a float is not an integer, a string is not a number
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, validate_default=True)


# a layer width: lists of them may not be empty and may not hold zero-sized layers
Width = Annotated[int, Field(ge=1, le=256)]


def _unique(values: list) -> list:
    """Refuses duplicated entries (e.g. a simulator listed twice)."""
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"duplicated entries {sorted(set(seen))}; list each one once")
    return values


class DataConfig(Section):
    fanout: int = Field(2, ge=1, le=8, description="neighbours sampled per user and per item")
    neighbour_order: Literal["random", "recent"] = "recent"
    sequential_neighbours: bool = Field(
        True, description="training ego-graphs take as the user's neighbours the k items the user "
                           "rated just before the pair: what a held-out item's graph holds at evaluation "
                           "(the user's last k training items), not the user's newest of all")
    title_length: int = Field(8, ge=1, le=32)
    title_match: int = Field(
        0, ge=0, le=64, description="mark each of the candidate's title tokens with how many of the titles "
                                    "of the user's last n items hold it (0: off): token id + vocabulary "
                                    "size x level, so the text tower sees the user's recent titles")
    title_match_levels: int = Field(2, ge=1, le=8, description="marks 0..levels (counts above clip)")
    min_token_count: int = Field(2, ge=1)
    eval_negatives: int = Field(99, ge=1)
    train_negatives: int = Field(8, ge=1, description="sampled negatives per training positive")
    seed: int = 0


class QuantConfig(Section):
    weight_bits: int = Field(8, ge=2, le=16)
    embedding_bits: int = Field(8, ge=2, le=16)
    embedding_integer: int = Field(0, ge=0, le=8)
    activation_bits: int = Field(8, ge=2, le=16)
    activation_integer: int = Field(2, ge=0, le=8)
    adjacency_bits: int = Field(8, ge=2, le=16)
    recip_bits: int = Field(8, ge=2, le=16)


class ModelConfig(Section):
    embedding_dim: int = Field(8, ge=1, le=256)
    gnn_channels: list[Width] = Field(default_factory=lambda: [8, 8], min_length=1)
    adjacency: Literal["static", "dynamic"] = "static"
    token_dim: int = Field(8, ge=1, le=256)
    text_dim: int = Field(8, ge=1, le=256)
    fusion_units: list[Width] = Field(default_factory=lambda: [16],
                                      description="hidden widths of the fusion MLP ([]: none)")
    interaction: bool = Field(True, description="elementwise user x item product into the fusion MLP")
    embedding_product: bool = Field(False, description="also the product of the user's and item's own "
                                                       "embeddings (before the graph layers): the MF term")
    score_skip: bool = Field(False, description="the products also feed the score layer directly "
                                                "(score = w.(u*i) + MLP), past the relu MLP")
    text_product: Literal["off", "embedding", "gnn"] = Field(
        "off", description="hybrid only: the user vector (its own embedding, or the GNN's user output) "
                           "times the text tower's output, with the other products (needs text_dim equal "
                           "to that width)")
    quant: QuantConfig = Field(default_factory=QuantConfig)


class DistillConfig(Section):
    """Distillation of the text tower from a sentence encoder (optional extra ``teacher``)."""

    enabled: bool = True
    teacher: Literal["all-MiniLM-L6-v2"] = "all-MiniLM-L6-v2"
    epochs: int = Field(60, ge=1, description="epochs over the item titles")
    learning_rate: float = Field(1e-2, gt=0)
    holdout: float = Field(0.1, gt=0, lt=1, description="share of items held out for the cosine report")
    compare: bool = Field(True, description="also train hybrid_float without distillation (NDCG with/without)")
    cold_threshold: int = Field(20, ge=0, description="items with at most this many training interactions are cold")


class LoraRun(Section):
    """One more LoRA run of the comparison, e.g. with adapters on the node embedding table."""

    targets: list[str] = Field(min_length=1, description="layer names or name prefixes that get adapters")
    rank: int = Field(4, ge=1, le=64)
    alpha: float = Field(4.0, gt=0)
    learning_rate: float = Field(3e-3, gt=0)
    batch_size: int = Field(1024, ge=8)


class LoraConfig(Section):
    """LoRA against full fine-tuning on a temporal adaptation task (earlier -> later timeline)."""

    enabled: bool = True
    rank: int = Field(4, ge=1, le=64)
    alpha: float = Field(8.0, gt=0)
    targets: list[str] = Field(default_factory=lambda: ["text_dense", "fusion", "score"],
                               description="layer names or name prefixes that get adapters (dense or embedding)")
    split: float = Field(0.8, gt=0, lt=1, description="share of the training timeline the base model sees")
    split_by: Literal["user", "global"] = Field("user", description="each user's own timeline, or one cut")
    base_epochs: int = Field(6, ge=1, description="base training (early stopping on validation)")
    epochs: int = Field(4, ge=1, description="adaptation epochs (full fine-tuning and LoRA alike)")
    learning_rate: float = Field(1e-3, gt=0, description="full fine-tuning learning rate")
    lora_learning_rate: float = Field(3e-2, gt=0)
    batch_size: int = Field(1024, ge=8, description="LoRA batch size (full fine-tuning uses train.batch_size)")
    variant: Literal["hybrid_quant", "hybrid_float"] = "hybrid_quant"
    negatives: int | None = Field(None, ge=1, description="sampled negatives per positive of the task "
                                                           "(base training and adaptation; default data.train_negatives)")
    also: list[LoraRun] = Field(
        default_factory=list,
        description="further LoRA runs on the same task, reported under lora.also (e.g. "
                    "[{targets: [node_embedding]}]: adapters on the embedding table, through the whole graph)")
    cache_frozen: bool = Field(True, description="compute the frozen base's features once per epoch")


class BaselinesConfig(Section):
    """Popularity, BPR-MF (design size and 64), EASE and LightGCN on the same split and metrics."""

    enabled: bool = True
    epochs: int = Field(60, ge=5, description="BPR epochs of BPR-MF and LightGCN (validation every 5)")


class TrainConfig(Section):
    epochs: int = Field(30, ge=1)
    qat_epochs: int = Field(6, ge=1, description="QAT from the float twin converges in a few epochs")
    batch_size: int = Field(1024, ge=8)
    learning_rate: float = Field(3e-3, gt=0)
    qat_learning_rate: float = Field(1e-3, gt=0)
    patience: int = Field(3, ge=1)
    qat_from_float: bool = True
    hybrid_from_gnn: bool = Field(False, description="hybrid_float starts from the trained gnn_float (the "
                                                     "text tower's rows in the fusion at zero), and "
                                                     "hybrid_quant from gnn_quant with hybrid_float's "
                                                     "text tower (with qat_from_float)")
    grow_frozen: bool = Field(False, description="with hybrid_from_gnn: the layers taken over unchanged "
                                                 "stay frozen; the text tower and the grown layers train")
    embedding_init: Literal["random", "lightgcn", "bpr_mf"] = Field(
        "random", description="where every float variant's node table starts: Keras' initializer, or a "
                              "LightGCN / BPR-MF of the design's size trained on the full training graph")
    variants: list[Literal["hybrid_quant", "hybrid_float", "gnn_quant", "text_quant",
                           "gnn_float", "text_float"]] = Field(
        default_factory=lambda: ["hybrid_float", "hybrid_quant", "gnn_quant", "text_quant"], min_length=1)
    seed: int = 0
    distill: DistillConfig = Field(default_factory=DistillConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    baselines: BaselinesConfig = Field(default_factory=BaselinesConfig)

    _variants_unique = field_validator("variants")(_unique)


class SweepConfig(Section):
    """Grid of ``codesign sweep``: every combination of bit width and layer size."""

    bits: list[int] = Field(default_factory=lambda: [4, 6, 8], min_length=1)
    sizes: list[int] = Field(default_factory=lambda: [4, 8], min_length=1,
                             description="embedding, GNN, token and text width (fusion = 2x)")
    epochs: int = Field(4, ge=1)
    qat_epochs: int = Field(3, ge=1)
    synth: bool = Field(False, description="yosys per point (minutes each); else da4ml's LUT estimate")
    workers: int = Field(1, ge=1, description="local worker processes")
    boards: list[str] = Field(default_factory=list, description="boards to build every point for "
                                                              "(default: the design's board)")
    clocks_mhz: list[Annotated[float, Field(gt=0)] | Literal["auto"]] = Field(
        default_factory=list, description="target clocks to build every point for (default: each board's "
                                          "clock; auto: the rtl step chooses)")

    @field_validator("bits")
    @classmethod
    def _bit_range(cls, bits: list[int]) -> list[int]:
        if any(not 2 <= b <= 16 for b in bits):
            raise ValueError("every bit width must be within 2..16")
        return bits

    @field_validator("boards")
    @classmethod
    def _known_boards(cls, boards: list[str]) -> list[str]:
        from codesign.boards import available_boards
        unknown = [b for b in boards if b not in available_boards()]
        if unknown:
            raise ValueError(f"unknown board(s) {', '.join(unknown)}; available: {', '.join(available_boards())}")
        return boards

    @field_validator("sizes")
    @classmethod
    def _size_range(cls, sizes: list[int]) -> list[int]:
        if any(not 1 <= s <= 256 for s in sizes):
            raise ValueError("every layer size must be within 1..256")
        return sizes


class VectorsConfig(Section):
    real: int = Field(12000, ge=1, description="test-split requests (positives + sampled negatives) frozen")
    random: int = Field(2000, ge=0, description="requests with uniformly random inputs over their full grids")
    seed: int = 0
    inputs_file: str | None = Field(None, description="a model of your own: your own requests (.npz, one "
                                    "array per input name), frozen beside the random ones")


class HlsConfig(Section):
    backend: Literal["Vitis", "Vivado", "VivadoAccelerator"] = "Vitis"
    io_type: Literal["io_parallel", "io_stream"] = "io_parallel"
    strategy: Literal["Latency", "Resource"] = "Latency"
    reuse_factor: int = Field(1, ge=1, le=1024)
    clock_period_ns: float | None = Field(None, gt=0, description="default: the board's clock")
    synth: bool = Field(True, description="run C synthesis when vitis_hls/vivado_hls is on PATH")
    cosim: bool = Field(False, description="also run C/RTL co-simulation (slow)")


class RtlConfig(Section):
    """The ``rtl`` and ``sim`` steps: da4ml pipelining, yosys estimate, cocotb simulation."""

    variant: Literal["hybrid_quant"] = "hybrid_quant"
    latency_cutoff: float | None = Field(
        None, gt=0, description="da4ml adder levels per pipeline stage (explicit override); "
                                "null: stages cut so the timing estimate meets the clock")
    clock_mhz: Annotated[float, Field(gt=0)] | Literal["auto"] | None = Field(
        None, description="target clock; null: the board's default (at most the board's max_clock_mhz); "
                          "auto: the clock x stages pair of lowest predicted latency up to max_clock_mhz")
    timing: bool = Field(True, description="yosys timing estimate (Fmax before place & route) of every build")
    net_delay_ns: float = Field(0.5, ge=0, le=5, description="routing model: delay added per routed net")
    timing_margin: float = Field(0.125, ge=0, lt=1, description="share of the period kept free "
                                                               "(hls4ml's clock uncertainty)")
    timing_runs: int = Field(3, ge=1, le=10, description="at most this many yosys runs in the stage search")
    synth: bool = Field(True, description="run the yosys resource estimate")
    simulators: list[Literal["verilator", "icarus"]] = Field(
        default_factory=lambda: ["verilator", "icarus"], min_length=1)
    verilator_vectors: int = Field(10000, ge=1)
    icarus_vectors: int = Field(1000, ge=1)

    _simulators_unique = field_validator("simulators")(_unique)


class BitstreamConfig(Section):
    """The ``bitstream`` step: Vivado project (block design, tcl, .hwh); runs Vivado when on PATH."""

    vivado: bool = Field(True, description="run the generated project when vivado is on PATH")
    jobs: int = Field(2, ge=1, le=64, description="Vivado synthesis/implementation jobs")
    vivado_timeout_s: float = Field(4 * 3600, gt=0, description="deadline of the whole Vivado run")
    hls4ml: bool = Field(True, description="also write hls4ml's VivadoAccelerator project where it supports the board")


class HostConfig(Section):
    """The ``host`` step: the PYNQ driver on a board or on the simulated device."""

    backends: list[Literal["reference", "csim", "rtl"]] = Field(
        default_factory=lambda: ["reference", "csim", "rtl"], min_length=1,
        description="simulated-device backends run (a backend whose inputs are missing is skipped)")
    reference_vectors: int = Field(10000, ge=1, description="requests through the driver, reference backend")
    csim_vectors: int = Field(10000, ge=1, description="requests through the driver, C-simulation backend")
    rtl_vectors: int = Field(1000, ge=1, description="requests through the driver, RTL backend (Verilator)")
    batch_sizes: list[int] = Field(default_factory=lambda: [1, 8, 64, 256, 1024], min_length=1,
                                   description="latency sweep (each at most max_batch)")
    repeats: int = Field(100, ge=1, description="timed calls per batch size")
    warmup: int = Field(10, ge=0, description="untimed calls per batch size before timing")
    latency_backends: list[Literal["reference", "csim", "rtl"]] = Field(
        default_factory=lambda: ["reference"], description="backends whose latency is measured")
    max_batch: int = Field(1024, ge=1, description="requests per DMA transfer (the driver's buffer)")
    timeout_s: float = Field(5.0, gt=0, description="deadline of one DMA transfer")

    @field_validator("batch_sizes")
    @classmethod
    def _positive_batches(cls, sizes: list[int]) -> list[int]:
        if any(b < 1 for b in sizes):
            raise ValueError("every batch size must be >= 1")
        return sizes



class BenchConfig(Section):
    """The ``bench`` step: the same model on the CPU (and GPU) runtimes."""

    batch_sizes: list[int] = Field(default_factory=lambda: [1, 8, 64, 256, 1024], min_length=1,
                                   description="requests per call; each is timed apart")
    repeats: int = Field(200, ge=3, description="timed calls per runtime, precision and batch size")
    warmup: int = Field(20, ge=1, description="untimed calls first (tracing, XLA compilation, caches)")
    max_seconds: float = Field(10.0, gt=0, description="time budget per batch size (at least 3 calls)")
    runtimes: list[Literal["tf_eager", "tf_function", "tf_xla", "onnxruntime", "tflite_int8"]] = Field(
        default_factory=lambda: ["tf_eager", "tf_function", "tf_xla", "onnxruntime", "tflite_int8"],
        min_length=1)
    precisions: list[Literal["float", "quant"]] = Field(
        default_factory=lambda: ["float", "quant"], min_length=1,
        description="float: the trained hybrid_float; quant: rtl.variant (the hardware model)")
    threads: int = Field(1, ge=0, description="intra-op threads of every runtime (0: all cores)")
    verify_samples: int = Field(1024, ge=1, description="requests every runtime's outputs are checked on")
    gpu: bool = Field(True, description="also time on a GPU when TensorFlow sees one")
    timeout_seconds: float = Field(3600, gt=0, description="deadline of the whole benchmark")
    seed: int = 0

    @field_validator("batch_sizes")
    @classmethod
    def _batch_range(cls, sizes: list[int]) -> list[int]:
        if any(not 1 <= b <= 65536 for b in sizes):
            raise ValueError("every batch size must be within 1..65536")
        return sizes



def _precision(text: str) -> str:
    """A precision in hls4ml's notation (checked by ``codesign.fixedpoint.parse_precision``)."""
    from codesign.fixedpoint import parse_precision
    parse_precision(text)
    return text


class LayerPrecision(Section):
    """Precisions of one float layer's parts (each missing part: ``precision.default``)."""

    weight: str | None = None
    bias: str | None = None
    result: str | None = None

    @field_validator("weight", "bias", "result")
    @classmethod
    def _valid(cls, text: str | None) -> str | None:
        return None if text is None else _precision(text)


class PrecisionConfig(Section):
    """Precisions of a model's float parts (hls4ml notation ``fixed<W,I[,ROUND,OVERFLOW]>``):
    a float input or a layer without quantizers takes its entry here, else ``default``."""

    default: str = Field("fixed<16,6>", description="hls4ml's default type (TRN, WRAP)")
    inputs: dict[str, str] = Field(default_factory=dict, description="input name -> precision")
    layers: dict[str, str | LayerPrecision] = Field(
        default_factory=dict, description="layer name -> precision, or {weight, bias, result}")

    @field_validator("default")
    @classmethod
    def _valid_default(cls, text: str) -> str:
        return _precision(text)

    @field_validator("inputs")
    @classmethod
    def _valid_inputs(cls, tree: dict[str, str]) -> dict[str, str]:
        return {k: _precision(v) for k, v in tree.items()}

    @field_validator("layers", mode="before")
    @classmethod
    def _layer_keys(cls, tree):
        for name, entry in (tree.items() if isinstance(tree, dict) else ()):
            unknown = sorted(set(entry) - set(LayerPrecision.model_fields)) if isinstance(entry, dict) else []
            if unknown:
                raise ValueError(f"precision.layers.{name}: unknown key(s) {', '.join(unknown)}; allowed: "
                                 f"{', '.join(LayerPrecision.model_fields)} (or one precision for all three)")
        return tree

    @field_validator("layers")
    @classmethod
    def _valid_layers(cls, tree: dict) -> dict:
        return {k: _precision(v) if isinstance(v, str) else v for k, v in tree.items()}


class DesignConfig(Section):
    name: str = "default"
    board: str = Field("pynq-z2", description="a board of boards/ (e.g. pynq-z2, zcu104)")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    vectors: VectorsConfig = Field(default_factory=VectorsConfig)
    hls: HlsConfig = Field(default_factory=HlsConfig)
    rtl: RtlConfig = Field(default_factory=RtlConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    bitstream: BitstreamConfig = Field(default_factory=BitstreamConfig)
    host: HostConfig = Field(default_factory=HostConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    precision: PrecisionConfig = Field(default_factory=PrecisionConfig)
    # a model of your own (codesign flow --model): the steps read this file instead of training
    model_file: str | None = Field(None, description="a saved .h5/.keras model of supported layers")

    @field_validator("board")
    @classmethod
    def _known_board(cls, name: str) -> str:
        from codesign.boards import available_boards
        if name not in available_boards():
            raise ValueError(f"unknown board; available: {', '.join(available_boards())}")
        return name

    def section_hash(self, *sections: str) -> str:
        """Stable hash of the named sections (dotted paths allowed)."""
        parts = {s: _lookup(self.model_dump(), s) for s in sections}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _lookup(tree: dict, dotted: str):
    for key in dotted.split("."):
        tree = tree[key]
    return tree


def _allowed(model: type[BaseModel], loc: tuple) -> str:
    """The keys allowed at ``loc`` (the parent of a bad key) in the schema."""
    for key in loc:
        if isinstance(key, int):
            continue
        field = model.model_fields.get(key)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    return ", ".join(model.model_fields)


def _message(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<top>"
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'; allowed here: {_allowed(DesignConfig, e['loc'][:-1])}")
        else:
            lines.append(f"bad value for '{key}': {e['msg']} (got {e.get('input')!r})")
    return "invalid design config:\n  " + "\n  ".join(lines)


def parse_config(tree: dict | None) -> DesignConfig:
    """Validates a config tree (from YAML) and fills in defaults."""
    if tree is not None and not isinstance(tree, dict):
        raise ConfigError(f"invalid design config: expected a mapping at the top, got {type(tree).__name__}")
    try:
        return DesignConfig.model_validate(tree or {})
    except ValidationError as err:
        raise ConfigError(_message(err)) from None


def load_config(path: str | Path | None = None) -> DesignConfig:
    """Reads a YAML design config; ``None`` gives the embedded default design."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"design config {path} does not exist")
    try:
        tree = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"design config {path} is not valid YAML: {err}") from None
    if tree is None:
        raise ConfigError(f"design config {path} is empty: give at least 'name: <design>' (every other "
                          "key has a default), or leave out --config for the default design")
    try:
        return parse_config(tree)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
