"""A model file is data: its classes are checked from the stored config before anything is
deserialized; a Lambda runs no code; broken files get one clear message."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from codesign.cli import main
from codesign.fixedpoint import SUPPORTED_LAYERS
from codesign.models.modelfile import ModelFileError, check_model_file, load_model_file


def lambda_model(marker):
    """A model whose Lambda writes ``marker`` whenever it is called (as loading it does)."""
    body = eval(f"lambda x: (open({str(marker)!r}, 'w').write('ran'), x)[1]")   # noqa: S307 - the test's own code
    x = tf.keras.Input((4,), name="x")
    return tf.keras.Model(x, tf.keras.layers.Lambda(body, name="evil")(x))


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_lambda_model_runs_no_code(tmp_path, capsys, suffix):
    marker = tmp_path / "side_effect"
    path = tmp_path / f"evil{suffix}"
    lambda_model(marker).save(path)
    marker.unlink()                                   # building the model ran it once
    assert main(["hls", "--model", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "'evil' (Lambda)" in err and "never runs" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "o").exists()
    if suffix == ".h5":   # the control: Keras itself would have run the stored code
        tf.keras.models.load_model(path, compile=False)
        assert marker.read_text() == "ran"


def _bad_files(tmp_path, qmodel):
    good_h5, good_keras = tmp_path / "good.h5", tmp_path / "good.keras"
    qmodel.save(good_h5)
    qmodel.save(good_keras)
    files = {"empty.h5": b"", "empty.keras": b"", "random.h5": np.random.default_rng(0).bytes(4096),
             "random.keras": np.random.default_rng(1).bytes(4096),
             "truncated.h5": good_h5.read_bytes()[:2000], "truncated.keras": good_keras.read_bytes()[:600]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return list(files)


def qkeras_model():
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    x = tf.keras.Input((4,), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(x)
    h = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               name="dense")(h)
    return tf.keras.Model(x, QActivation(quantized_relu(8, 2), name="act")(h))


def test_broken_model_files_are_named(tmp_path, capsys):
    for name in _bad_files(tmp_path, qkeras_model()):
        rc = main(["hls", "--model", str(tmp_path / name), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert rc == 2 and f"{tmp_path / name} is not a Keras model (.h5 or .keras): " in err, (name, err)
        assert "Traceback" not in err
    (tmp_path / "model.txt").write_text("x")
    assert main(["hls", "--model", str(tmp_path / "model.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "must be one of .h5, .keras" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_qkeras_keras_file_loads_and_matches(tmp_path):
    model = qkeras_model()
    path = tmp_path / "q.keras"
    model.save(path)
    loaded = load_model_file(path, SUPPORTED_LAYERS)
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert str(loaded.get_layer("dense").kernel_quantizer_internal) == str(model.get_layer("dense").kernel_quantizer_internal)


def test_spektral_layer_outside_the_table_is_refused_by_name(tmp_path, capsys):
    from spektral.layers import GATConv
    x, a = tf.keras.Input((6, 4), name="x"), tf.keras.Input((6, 6), name="a")
    model = tf.keras.Model([x, a], GATConv(4, name="gat")([x, a]))
    path = tmp_path / "gat.keras"
    model.save(path)
    with pytest.raises(ModelFileError, match=r"unsupported layer\(s\) 'gat' \(GATConv\); supported layers: InputLayer"):
        check_model_file(path, SUPPORTED_LAYERS)
    assert main(["hls", "--model", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "'gat' (GATConv)" in err and "custom_object_scope" not in err and "Traceback" not in err
