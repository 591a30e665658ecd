"""The title-overlap upper bound of the text tower (``python -m codesign.train.textsignal``)."""
import json

import numpy as np

from codesign.data.step import load_data
from codesign.train.evaluate import evaluate, model_scorer
from codesign.train.step import load_trained
from codesign.train.textsignal import WEIGHTS, main, overlap_scores, text_signal, token_bags


def test_overlap_is_the_cosine_with_the_users_last_titles(tiny_design):
    data = load_data(tiny_design)
    bags = token_bags(data, data.item_nodes[:3])
    for row, node in zip(bags, data.item_nodes[:3]):
        assert set(np.flatnonzero(row)) == {t for t in data.node_tokens[node] if t > 1}
    s = overlap_scores(data, "test")
    n, negatives = data.negatives["test"].shape
    assert s.shape == (n, 1 + negatives) and (s >= 0).all() and (s <= 1 + 1e-6).all()
    item = data.test[0, 1]
    last = data.inputs(data.test[:1, 0], data.test[:1, 1])["nodes"][0, 2:2 + data.k]
    history = token_bags(data, last).mean(0)
    cand = token_bags(data, np.array([item]))[0]
    cosine = history @ cand / max(np.linalg.norm(history) * np.linalg.norm(cand), 1e-9)
    assert np.isclose(s[0, 0], cosine)


def test_fusion_weight_is_chosen_on_validation_and_reported_on_test(tiny_design, capsys):
    data = load_data(tiny_design)
    scorer = model_scorer(load_trained(tiny_design, "gnn_quant"), data)
    out = text_signal(scorer, data)
    assert out["weight"] in WEIGHTS and set(out["valid_ndcg10_by_weight"]) == set(map(float, WEIGHTS))
    assert out["valid_ndcg10_by_weight"][out["weight"]] == max(out["valid_ndcg10_by_weight"].values())
    assert np.isclose(out["model_ndcg10"], evaluate(scorer, data, "test", full=False)["ndcg10"])
    d = out["fused_minus_model"]
    assert np.isclose(d["mean"], out["fused_ndcg10"] - out["model_ndcg10"]) and d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    assert main(["--out", str(tiny_design.folder)]) == 0
    written = json.loads((tiny_design.path("train") / "text_signal.json").read_text())
    assert written["variant"] == "gnn_quant" and written["weight"] == out["weight"]
    assert "chosen on valid" in capsys.readouterr().out


def test_a_folder_without_a_design_is_refused(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "nothing")]) == 2
    assert "design.yaml does not exist" in capsys.readouterr().err
