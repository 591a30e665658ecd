"""Board definitions (``boards/<name>.yaml``): part, clock, resources, interface, overlay recipe."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lut: int
    ff: int
    dsp: int
    bram36: int


class Board(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    part: str
    family: str
    clock_mhz: float
    max_clock_mhz: float | None = None     # highest PL clock the board's PS can generate for us
    resources: Resources
    memory: dict
    interface: dict
    hls4ml_board: str | None = None
    pynq_image: str
    overlay: str

    @property
    def clock_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def target_clock_mhz(board: Board, requested: float | None) -> float:
    """The design's clock: the board's default, or ``requested`` where the board can generate it."""
    if requested is None:
        return board.clock_mhz
    limit = board.max_clock_mhz or board.clock_mhz
    if requested > limit:
        raise ValueError(f"rtl.clock_mhz {requested} MHz is above what board {board.name} can generate "
                         f"({limit} MHz, max_clock_mhz in boards/{board.name}.yaml): choose {limit} or less")
    return float(requested)


def available_boards() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.yaml"))


def load_board(name: str) -> Board:
    """The board called ``name``; a clear error lists the known boards otherwise."""
    path = BOARDS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown board '{name}'; available: {', '.join(available_boards())} "
                         f"(add one as boards/<name>.yaml)")
    try:
        return Board.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as err:
        raise ValueError(f"board file {path} is invalid: {err}") from None
