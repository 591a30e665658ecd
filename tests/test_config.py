import pytest

from codesign.config import ConfigError, load_config, parse_config


def test_default_design_loads():
    cfg = load_config()
    assert cfg.name == "default" and cfg.board == "pynq-z2"
    assert cfg.model.quant.weight_bits <= 8 and cfg.model.quant.activation_bits <= 8


@pytest.mark.parametrize("tree, words", [
    ({"data": {"fanot": 2}}, ["unknown key 'data.fanot'", "fanout"]),
    ({"modle": {}}, ["unknown key 'modle'", "model"]),
    ({"model": {"quant": {"wieght_bits": 4}}}, ["'model.quant.wieght_bits'", "weight_bits"]),
])
def test_unknown_keys_are_named_with_the_allowed_ones(tree, words):
    with pytest.raises(ConfigError) as err:
        parse_config(tree)
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("tree, words", [
    ({"model": {"quant": {"weight_bits": 1}}}, ["model.quant.weight_bits", "greater than or equal to 2"]),
    ({"model": {"adjacency": "sparse"}}, ["model.adjacency", "'static' or 'dynamic'"]),
    ({"data": {"fanout": "two"}}, ["data.fanout", "integer"]),
    ({"board": "pynq-z9"}, ["board", "pynq-z2"]),
    ({"train": {"variants": ["hybrid_fp"]}}, ["train.variants.0", "hybrid_quant"]),
])
def test_bad_values_are_named(tree, words):
    with pytest.raises(ConfigError) as err:
        parse_config(tree)
    for w in words:
        assert w in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_section_hash_tracks_only_its_section():
    a, b = parse_config({}), parse_config({"train": {"epochs": 3}})
    assert a.section_hash("data") == b.section_hash("data")
    assert a.section_hash("train") != b.section_hash("train")


def test_cache_keys_survive_design_yaml():
    """A folder's design.yaml read back gives the same section hashes (a float default written as
    5 reads back as 5.0): commands that read design.yaml see the steps as current."""
    import yaml
    from codesign.config import load_config, parse_config
    cfg = load_config(None)
    back = parse_config(yaml.safe_load(yaml.safe_dump(cfg.model_dump(), sort_keys=False)))
    for section in cfg.model_dump():
        assert cfg.section_hash(section) == back.section_hash(section), section
