"""Full fine-tuning against LoRA on one adaptation task: the earlier timeline -> the later one.

Task: a base model is trained on the earliest ``lora.split`` share of the training
interactions (each user's own earliest share by default, ``lora.split_by``; its ego-graphs
drawn from that part of the graph only). It is then adapted
to the remaining, later interactions (ego-graphs from the whole training graph) for
``lora.epochs`` epochs, once with every weight trainable (full fine-tuning) and once with
only LoRA adapters on the targeted dense layers. Both runs see the very same sampled
epochs (negatives and neighbours drawn once, up front), so wall time compares the training
itself: sampling time is reported apart. Every epoch is timed; ``time_ratio`` is the ratio of
the median epoch times (robust to a noisy machine and to the first epoch's graph tracing),
``time_ratio_total`` that of the total times. Both are scored on the test split (every user's
last interaction), like the main models, and on the validation split (every user's second
last); the adapters are merged before scoring.

What makes LoRA cheap here: the adapters sit on the text tower's dense layer and the fusion
MLP, on top of a frozen base, so the inputs of the adapted head (the GNN readout and the
pooled title) do not change during adaptation. They are computed once per epoch in inference
mode, and only the small head runs forward and backward (``lora.cache_frozen``). The time of
plain LoRA through the whole graph is reported as well (``time_ratio_uncached``), and so is
the share of the cached run spent in that frozen forward pass (``frozen_forward_seconds``),
which bounds what any head-only method can save.

``lora.also`` adds LoRA runs with other targets, e.g. adapters on the node embedding table
(where the users' drift lives); such runs train through the whole graph (nothing to cache).
"""
from __future__ import annotations

import copy
import time

import numpy as np
import tensorflow as tf

from codesign.console import progress
from codesign.config import LoraRun
from codesign.data.dataset import RecData
from codesign.data.egograph import NeighbourTable
from codesign.flow import Design
from codesign.models.hybrid import build_model
from codesign.train.evaluate import evaluate
from codesign.train.lora import _objects, add_lora, merge_lora, trainable_count
from codesign.train.loop import fit, seed_everything


def temporal_split(train: np.ndarray, share: float, by: str = "user") -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the earlier ``share`` of interactions and of the rest.

    ``by="user"``: each user's own earliest share (every user is known to the base model,
    the later part is their drift); ``by="global"``: one cut on the timeline (users who
    arrive later are new to the base model).
    """
    if by == "global":
        order = np.argsort(train[:, 2], kind="stable")
        cut = int(round(share * len(order)))
        return np.sort(order[:cut]), np.sort(order[cut:])
    if by != "user":
        raise ValueError(f"temporal split {by!r} is not one of 'user', 'global'")
    order = np.lexsort((train[:, 2], train[:, 0]))
    users = train[order, 0]
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    counts = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, counts)
    early = rank < np.round(share * np.repeat(counts, counts))
    return np.sort(order[early]), np.sort(order[~early])


def with_positives(data: RecData, rows: np.ndarray, graph_rows: np.ndarray | None = None) -> RecData:
    """A view of ``data`` whose training positives are ``rows`` (and graph ``graph_rows``)."""
    view = copy.copy(data)
    view.train = data.train[rows]
    for name in ("previous", "row_titles"):    # per training row
        if getattr(data, name) is not None:
            setattr(view, name, getattr(data, name)[rows])
    if graph_rows is not None:
        view.train_table = NeighbourTable(data.train[graph_rows], data.n_nodes, data.cfg.neighbour_order,
                                          data.cfg.seed)
    return view


def _clone(model: tf.keras.Model) -> tf.keras.Model:
    with tf.keras.utils.custom_object_scope(_objects()):
        twin = tf.keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


class _Run:
    """One adaptation run, trained an epoch at a time so that runs can be interleaved.

    ``cached``: the frozen prefix runs once per epoch in inference mode and only the head
    (the adapted layers and what follows them) trains.
    """

    def __init__(self, model: tf.keras.Model, learning_rate: float, batch_size: int, cached: bool = False):
        self.model, self.batch_size, self.learning_rate = model, batch_size, learning_rate
        self.epoch_seconds: list[float] = []
        self.prefix_seconds = 0.0
        self.prefix, self.net = split_head(model) if cached else (None, model)
        self.net.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                         loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))

    def epoch(self, x: dict, y: np.ndarray) -> None:
        start = time.perf_counter()
        if self.prefix is not None:  # the frozen base's outputs, once, in inference mode
            x = self.prefix.predict([x[i.name.split(":")[0]] for i in self.prefix.inputs],
                                    batch_size=16384, verbose=0)
            self.prefix_seconds += time.perf_counter() - start
        self.net.fit(x, y, batch_size=self.batch_size, epochs=1, shuffle=False, verbose=0)
        self.epoch_seconds.append(time.perf_counter() - start)

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    @property
    def median_epoch(self) -> float:
        return float(np.median(self.epoch_seconds))


def _head_layers(adapted: tf.keras.Model) -> list[tf.keras.layers.Layer]:
    """The layers the head re-applies, in order: ``text_dense``, ``fusion_concat``, every layer
    after it, and every layer that reads (directly or not) the output of one of those."""
    names = [l.name for l in adapted.layers]
    start = names.index("fusion_concat")
    head, produced = [], set()
    for j, layer in enumerate(adapted.layers):
        ins = layer.input if isinstance(layer.input, list) else [layer.input]
        if j >= start or layer.name == "text_dense" or any(id(t) in produced for t in ins):
            head.append(layer)
            produced.add(id(layer.output))
    return head


def adapters_in_head(adapted: tf.keras.Model) -> bool:
    """True when every adapter sits on the text dense layer or after the fusion's inputs."""
    names = [l.name for l in adapted.layers]
    if "fusion_concat" not in names or "text_dense" not in names:
        return False
    head = {l.name for l in _head_layers(adapted)}
    return all(l.name in head for l in adapted.layers if l.trainable_weights)


def split_head(adapted: tf.keras.Model) -> tuple[tf.keras.Model, tf.keras.Model]:
    """(frozen prefix: inputs -> the head's inputs, head: those -> score), sharing layers.

    The head is ``text_dense`` (it carries an adapter), the fusion and everything after it,
    and every layer fed by them (e.g. a user x title product of ``text_relu``); the prefix
    computes the tensors the head reads from below (the pooled title, the GNN readouts, the
    products). The head re-applies the adapted model's own layer objects, so training it
    trains the adapters of ``adapted``; ``head(prefix(x)) == adapted(x)``.
    """
    names = [l.name for l in adapted.layers]
    if "fusion_concat" not in names or "text_dense" not in names:
        raise ValueError("the frozen-prefix split needs a hybrid model (text tower and fusion)")
    head = _head_layers(adapted)
    produced = {id(l.output) for l in head}
    # the cut: every tensor a head layer reads that no head layer makes (by identity: the
    # outputs of linear QActivations share the name 'Placeholder:0')
    cut, seen = [], set()
    for layer in head:
        for t in layer.input if isinstance(layer.input, list) else [layer.input]:
            if id(t) not in produced and id(t) not in seen:
                seen.add(id(t))
                cut.append(t)
    prefix = tf.keras.Model(adapted.inputs, cut, name="frozen_prefix")
    if prefix.trainable_weights:
        raise ValueError("the frozen-prefix split needs every layer below the adapters frozen: "
                         f"{[w.name for w in prefix.trainable_weights]} are trainable")
    feeds = [tf.keras.Input(t.shape[1:], dtype=t.dtype, name=f"part{j}") for j, t in enumerate(cut)]
    mapped = {id(t): f for f, t in zip(feeds, cut)}
    for layer in head:   # each on its own (mapped) inputs, so skips keep their wiring
        ins = layer.input
        mapped[id(layer.output)] = layer([mapped[id(t)] for t in ins] if isinstance(ins, list) else mapped[id(ins)])
    return prefix, tf.keras.Model(feeds, mapped[id(adapted.output)], name="adapted_head")


def _metrics(model: tf.keras.Model, data: RecData) -> dict:
    test = evaluate(model, data, "test", full=True)
    out = {k: round(v, 5) for k, v in test.items() if isinstance(v, float)}
    out["valid_ndcg10"] = round(evaluate(model, data, "valid", full=False)["ndcg10"], 5)
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def _lora_run(base: tf.keras.Model, spec: LoraRun, seed: int, cache: bool) -> _Run:
    seed_everything(seed)  # the same adapter initialisation for runs with the same targets
    adapted = add_lora(base, spec.targets, spec.rank, spec.alpha)
    return _Run(adapted, spec.learning_rate, spec.batch_size, cached=cache and adapters_in_head(adapted))


def _lora_report(run: _Run, data: RecData, full: dict, x: dict) -> dict:
    """Scores, time and ratios of one LoRA run against the full fine-tuning run."""
    merged = merge_lora(run.model)
    merge_diff = float(np.abs(merged.predict(x, verbose=0) - run.model.predict(x, verbose=0)).max())
    m = _metrics(merged, data)
    trainable = trainable_count(run.model)
    adapted = [l for l in run.model.layers if l.trainable_weights]
    return {
        "targets": [l.name for l in adapted], "rank": adapted[0].rank, "alpha": adapted[0].alpha,
        **m, "seconds": round(run.seconds, 3), "median_epoch_seconds": round(run.median_epoch, 3),
        "trainable": trainable,
        "cache_frozen": run.prefix is not None, "frozen_forward_seconds": round(run.prefix_seconds, 3),
        "batch_size": run.batch_size, "learning_rate": run.learning_rate,
        "merge_max_abs_diff": merge_diff,
        "time_ratio": _ratio(run.median_epoch, full["median_epoch_seconds"]),
        "time_ratio_total": _ratio(run.seconds, full["seconds"]),
        "trainable_ratio": round(trainable / full["trainable"], 5),
        "ndcg10_ratio": _ratio(m["ndcg10"], full["ndcg10"]),
        "ndcg10_full_ratio": _ratio(m["ndcg10_full"], full["ndcg10_full"]),
        "valid_ndcg10_ratio": _ratio(m["valid_ndcg10"], full["valid_ndcg10"]),
    }


def lora_experiment(design: Design, data: RecData, shapes) -> dict:
    """Runs the task above; returns times, trainable counts, NDCG@10 and their ratios."""
    cfg, tcfg, lcfg = design.cfg, design.cfg.train, design.cfg.train.lora
    early, late = temporal_split(data.train, lcfg.split, lcfg.split_by)
    negatives = lcfg.negatives or cfg.data.train_negatives
    seed_everything(tcfg.seed)
    base = build_model(lcfg.variant, cfg.model, shapes)
    base_run = fit(base, with_positives(data, early, graph_rows=early), epochs=lcfg.base_epochs,
                   learning_rate=tcfg.learning_rate, batch_size=tcfg.batch_size,
                   negatives=negatives, patience=tcfg.patience, seed=tcfg.seed,
                   desc="lora base (early timeline)")
    later = with_positives(data, late)
    rng = np.random.default_rng(tcfg.seed + 1)
    start = time.perf_counter()
    epochs = [later.training_epoch(rng, negatives) for _ in range(lcfg.epochs)]
    sample_seconds = time.perf_counter() - start

    main_spec = LoraRun(targets=lcfg.targets, rank=lcfg.rank, alpha=lcfg.alpha,
                        learning_rate=lcfg.lora_learning_rate, batch_size=lcfg.batch_size)
    full = _Run(_clone(base), lcfg.learning_rate, tcfg.batch_size)
    # the main run, the same adapters through the whole graph (time only), then lora.also
    runs = [_lora_run(base, main_spec, tcfg.seed, lcfg.cache_frozen), _lora_run(base, main_spec, tcfg.seed, False)]
    runs += [_lora_run(base, spec, tcfg.seed, lcfg.cache_frozen) for spec in lcfg.also]
    # interleaved epoch by epoch: load from other processes on a shared machine hits all alike
    for x, y in progress(epochs, "full fine-tuning vs LoRA", unit="epoch"):
        for run in [full] + runs:
            run.epoch(x, y)
    x = {k: v[:4096] for k, v in epochs[0][0].items()}
    full_m = {**_metrics(full.model, data), "seconds": round(full.seconds, 3),
              "median_epoch_seconds": round(full.median_epoch, 3),
              "trainable": trainable_count(full.model), "batch_size": tcfg.batch_size,
              "learning_rate": lcfg.learning_rate}
    main, uncached, *also = runs
    lora = _lora_report(main, data, full_m, x)
    return {
        "task": f"base trained on the earliest {lcfg.split:.0%} of training interactions "
                f"({'per user' if lcfg.split_by == 'user' else 'one cut on the timeline'}), adapted to the "
                f"later {1 - lcfg.split:.0%} for {lcfg.epochs} epochs, {negatives} sampled negatives per positive; "
                f"test = every user's last interaction",
        "variant": lcfg.variant, "rank": lcfg.rank, "alpha": lcfg.alpha, "targets": lora["targets"],
        "early_interactions": int(len(early)), "late_interactions": int(len(late)),
        "base_epochs_run": base_run["epochs_run"], "base": _metrics(base, data),
        "full": full_m, "lora": lora,
        # the same adapters trained through the whole graph: same scores, only the time differs
        "lora_uncached": {"seconds": round(uncached.seconds, 3),
                          "median_epoch_seconds": round(uncached.median_epoch, 3)},
        "also": [_lora_report(run, data, full_m, x) for run in also],
        "sample_seconds": round(sample_seconds, 3),
        "merge_max_abs_diff": lora["merge_max_abs_diff"],
        "time_ratio": lora["time_ratio"],
        "time_ratio_total": lora["time_ratio_total"],
        "time_ratio_uncached": _ratio(uncached.median_epoch, full.median_epoch),
        "trainable_ratio": lora["trainable_ratio"],
        "ndcg10_ratio": lora["ndcg10_ratio"],
        "ndcg10_full_ratio": lora["ndcg10_full_ratio"],
        "valid_ndcg10_ratio": lora["valid_ndcg10_ratio"],
    }
