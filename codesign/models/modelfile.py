"""A model file is data: its layer classes are checked before anything is deserialized.

A saved Keras model stores its architecture as JSON: the ``model_config`` attribute of an
``.h5`` file, ``config.json`` inside a ``.keras`` zip. ``read_layer_classes`` reads that JSON
with h5py / zipfile alone; ``load_model_file`` refuses ``Lambda`` (whose ``.h5`` form is
marshalled Python byte code that Keras would run while loading) and every class outside the
allowed table by name, and only then loads the model (``safe_mode=True`` as well).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

SUFFIXES = (".h5", ".keras")
CONTAINERS = ("Functional", "Model", "Sequential")
# classes that hold Python code in the file: never loaded
CODE_LAYERS = ("Lambda",)


class ModelFileError(ValueError):
    """A model file that is not a Keras model, or holds classes the flow does not load."""


def _not_keras(path: Path, why: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a Keras model (.h5 or .keras): {why}")


def model_file_config(path: Path) -> dict:
    """The stored architecture of a ``.h5`` / ``.keras`` file, read without Keras."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"model file {path} must be one of {', '.join(SUFFIXES)} (a saved Keras model)")
    if path.stat().st_size == 0:
        raise _not_keras(path, "the file is empty")
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as z:
                if "config.json" not in z.namelist():
                    raise _not_keras(path, "the zip holds no config.json")
                text = z.read("config.json")
        else:
            import h5py
            with h5py.File(path, "r") as f:
                if "model_config" not in f.attrs:
                    raise _not_keras(path, "the HDF5 file has no 'model_config' attribute (weights only?)")
                text = f.attrs["model_config"]
        config = json.loads(text.decode() if isinstance(text, bytes) else text)
    except ModelFileError:
        raise
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, KeyError, ValueError) as err:
        raise _not_keras(path, f"{type(err).__name__}: {err}") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise _not_keras(path, "its stored config is not a Keras model config")
    return config


def layer_classes(config: dict) -> list[tuple[str, str]]:
    """(layer name, class name) of every layer in a model config, nested models included."""
    found = []

    def walk(layer: dict) -> None:
        if not isinstance(layer, dict):
            return
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        found.append((str(cfg.get("name", layer.get("name", "?"))), str(layer.get("class_name"))))
        for sub in cfg.get("layers", []) if isinstance(cfg.get("layers"), list) else []:
            walk(sub)
        if isinstance(cfg.get("layer"), dict):     # wrappers (TimeDistributed, Bidirectional)
            walk(cfg["layer"])

    walk(config)
    return found[1:] if config.get("class_name") in CONTAINERS else found


def check_model_file(path: Path, allowed: tuple[str, ...]) -> dict:
    """Reads and checks the architecture of ``path``; returns it. Raises ``ModelFileError``
    naming every layer whose class holds code or is not in ``allowed``."""
    config = model_file_config(path)
    if config.get("class_name") not in CONTAINERS:
        raise _not_keras(path, f"its top object is a {config.get('class_name')}, not a model")
    classes = layer_classes(config)
    code = [f"'{n}' ({c})" for n, c in classes if c in CODE_LAYERS]
    if code:
        raise ModelFileError(f"{path} holds {', '.join(code)}: a Lambda layer is Python code stored in the file, "
                             "which codesign never runs; rebuild the model from supported layers "
                             f"({', '.join(allowed)})")
    bad = [f"'{n}' ({c})" for n, c in classes if c not in allowed and c not in CONTAINERS]
    if bad:
        raise ModelFileError(f"{path} holds unsupported layer(s) {', '.join(bad)}; supported layers: "
                             f"{', '.join(allowed)}")
    return config


def load_model_file(path: Path, allowed: tuple[str, ...]):
    """The Keras model in ``path`` after ``check_model_file``; loaded with every class of the
    package resolved (ours, QKeras', Spektral's) and ``safe_mode=True``."""
    import tensorflow as tf

    from codesign.models.layers import custom_objects
    check_model_file(path, allowed)
    try:
        return tf.keras.models.load_model(path, custom_objects=custom_objects(), compile=False, safe_mode=True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as err:
        raise _not_keras(Path(path), f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None


def package_classes() -> tuple[str, ...]:
    """Every layer class a model trained by codesign may hold: Keras' built-in layers, QKeras',
    Spektral's and ours (``Lambda`` never)."""
    import tensorflow as tf

    from codesign.models.layers import custom_objects
    builtin = [n for n, c in vars(tf.keras.layers).items()
               if isinstance(c, type) and issubclass(c, tf.keras.layers.Layer)]
    names = set(builtin) | set(custom_objects()) | {"TFOpLambda", "SlicingOpLambda"}
    return tuple(sorted(names - set(CODE_LAYERS)))
