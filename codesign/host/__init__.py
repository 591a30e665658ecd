"""The board side: the PYNQ driver of the recommender overlay (numpy + pynq only).

Nothing here may import TensorFlow, QKeras, hls4ml, da4ml, pydantic or yaml: a PYNQ board
has none of them (tests/test_host.py imports this package where they fail to import).
"""
from codesign.host.driver import DmaError, RecommenderOverlay, decode_status, load_layout

__all__ = ["DmaError", "RecommenderOverlay", "decode_status", "load_layout"]
