"""Flow step ``data``: MovieLens-100K split, title tokens, evaluation candidates."""
from __future__ import annotations

from codesign.data.dataset import RecData, prepare
from codesign.flow import Design, register_step


@register_step("data", sections=("data",))
def data_step(design: Design) -> dict:
    from codesign.hls.byom import OWN_MODEL
    if design.cfg.model_file:
        return {"skipped": OWN_MODEL}
    return prepare(design.cfg.data, design.path("data"))


def load_data(design: Design) -> RecData:
    """The prepared data of a design (the ``data`` step must be current)."""
    if not design.is_current("data"):
        raise RuntimeError(f"data of {design.folder} is missing or stale: run 'codesign data --out {design.folder}'")
    return RecData(design.path("data"), design.cfg.data)
