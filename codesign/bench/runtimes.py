"""The CPU/GPU runtimes a trained Keras model is timed on.

Every runtime is a ``Runner``: ``call(inputs) -> scores`` over a dict of numpy arrays (the
model's inputs, any batch size) returning numpy, so conversion of inputs and outputs is part
of what is timed, as it is for a user. A runtime that cannot be built here (no GPU provider,
a converter that refuses the model) raises ``Unavailable`` with the reason, which the bench
records as ``"skipped"``.

The quantized QKeras model goes to ONNX as it is: tf2onnx's graph optimisation folds every
weight quantizer into a constant (the ONNX file carries the quantized weights) and keeps the
activation quantizers as Round/Clip/Mul ops, so the exported float graph computes the
fixed-point model; the bench checks that against the fixed-point reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

ONNX_OPSET = 17


class Unavailable(RuntimeError):
    """A runtime that cannot run here; the message is the recorded reason."""


@dataclass
class Runner:
    """One runtime of one model: ``call(inputs) -> (batch, outputs)`` scores as numpy."""

    name: str
    call: Callable[[dict[str, np.ndarray]], np.ndarray]
    info: dict = field(default_factory=dict)


def input_names(model) -> list[str]:
    """The model's input names (``nodes``, ``tokens`` [, ``adjacency``])."""
    return [t.name.split(":")[0] for t in model.inputs]


def _signature(model) -> dict:
    import tensorflow as tf
    return {name: tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=name)
            for name, t in zip(input_names(model), model.inputs)}


def set_tf_threads(threads: int) -> dict:
    """Sets TensorFlow's intra-op threads (and inter-op to 1); must run before TF's first op.

    Returns the threads TensorFlow will actually use and whether setting them worked.
    """
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        done = True
    except RuntimeError:   # the runtime was already initialised in this process
        done = False
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(), "set": done}


def tf_runner(model, kind: str, device: str) -> Runner:
    """TensorFlow on ``device`` ('/CPU:0', '/GPU:0'): ``tf_eager``, ``tf_function`` or ``tf_xla``."""
    import tensorflow as tf
    if kind == "tf_eager":
        fn = lambda x: model(x, training=False)  # noqa: E731
    elif kind in ("tf_function", "tf_xla"):
        fn = tf.function(lambda x: model(x, training=False), input_signature=[_signature(model)],
                         jit_compile=kind == "tf_xla", reduce_retracing=True)
    else:
        raise ValueError(f"unknown TensorFlow runtime {kind!r}")

    def call(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with tf.device(device):
            return fn(inputs).numpy()
    return Runner(kind, call, {"device": device})


def export_onnx(model, path: Path) -> Path:
    """Writes ``model`` as ONNX (opset 17, dynamic batch, inputs named as the model's)."""
    import tf2onnx
    signature = list(_signature(model).values())
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=ONNX_OPSET)
    except Exception as err:  # the converter's own reason is what the user needs
        raise Unavailable(f"tf2onnx could not convert {model.name}: {type(err).__name__}: {err}") from err
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(proto.SerializeToString())
    tmp.replace(path)
    return path


def onnx_runner(path: Path, threads: int, device: str) -> Runner:
    """ONNX Runtime over the exported file: CPU provider, or CUDA on '/GPU:0' when installed."""
    import onnxruntime as ort
    if device.startswith("/GPU"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise Unavailable("onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)")
        providers = ["CUDAExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=providers)
    names = [i.name for i in session.get_inputs()]

    def call(inputs: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(None, {n: inputs[n] for n in names})[0]
    return Runner("onnxruntime", call, {"device": device, "providers": session.get_providers(),
                                        "file": path.name})


def convert_tflite_int8(model, representative: Iterable[dict[str, np.ndarray]]) -> bytes:
    """Post-training full-integer (int8) TFLite model; ``Unavailable`` with the converter's reason."""
    import tensorflow as tf
    samples = list(representative)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        return converter.convert()
    except Exception as err:  # ConverterError and friends: their text is the reason
        raise Unavailable(f"TFLite int8 conversion failed: {type(err).__name__}: "
                          f"{str(err).strip().splitlines()[0] if str(err).strip() else err!r}") from err


def tflite_runner(content: bytes, threads: int) -> Runner:
    """The TFLite interpreter (CPU, ``threads`` threads); resizes its inputs when the batch changes."""
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_content=content, num_threads=threads)
    details = {d["name"]: d for d in interpreter.get_input_details()}
    runner = interpreter.get_signature_runner()
    # signature input name -> tensor index
    index = {name: details[d["name"]]["index"] for name, d in runner.get_input_details().items()}
    out_index = next(iter(runner.get_output_details().values()))["index"]
    shapes: dict[str, tuple] = {}

    def call(inputs: dict[str, np.ndarray]) -> np.ndarray:
        if any(shapes.get(n) != inputs[n].shape for n in index):
            for n, i in index.items():
                interpreter.resize_tensor_input(i, inputs[n].shape, strict=False)
                shapes[n] = inputs[n].shape
            interpreter.allocate_tensors()
        for n, i in index.items():
            interpreter.set_tensor(i, inputs[n])
        interpreter.invoke()
        return interpreter.get_tensor(out_index)
    types = sorted({str(d["dtype"].__name__) for d in interpreter.get_tensor_details()})
    return Runner("tflite_int8", call, {"device": "/CPU:0", "tensor_types": types, "bytes": len(content)})


def quantized_weights_in_onnx(fp, path: Path) -> dict:
    """Which of the fixed-point model's weight tensors (embedding tables, dense and graph
    kernels, biases) the ONNX file stores already quantized, as constants.

    A tensor counts as found when an initializer holds exactly its values on their grid (in any
    layout: tf2onnx may transpose a kernel); a weight quantizer left in the graph would store the
    float weights instead.
    """
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(str(path)).graph
    stored: dict[int, list[np.ndarray]] = {}
    for init in graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype.kind == "f":
            stored.setdefault(values.size, []).append(np.sort(values.astype(np.float64).ravel()))
    wanted = []
    for op in fp.ops:
        if op.kind == "embedding":
            wanted.append((f"{op.name}.table", op.out.to_float(op.table)))
        if getattr(op, "kernel", None) is not None:
            wanted.append((f"{op.name}.kernel", op.kernel_fmt.to_float(op.kernel)))
        if getattr(op, "bias", None) is not None:
            wanted.append((f"{op.name}.bias", op.bias_fmt.to_float(op.bias)))
    missing = []
    for name, values in wanted:
        flat = np.sort(np.asarray(values, np.float64).ravel())
        if not any(np.array_equal(flat, c) for c in stored.get(flat.size, [])):
            missing.append(name)
    return {"tensors": len(wanted), "stored_quantized": len(wanted) - len(missing), "missing": missing}
