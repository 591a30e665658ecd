"""Latency of the RTL top in cycles and in ns, computed here and nowhere else.

Cycles (first request beat in -> first score beat out) of the generated top (``codesign/rtl/top.py``):
when a request spans several beats, the gather (``axis_request_gather``: the other BEATS-1 beats + its
output register) + the front (1: the ROM read; the token flags) + the da4ml core (its pipeline stages
+ 1: input and output registered; its input register holds the ROM rows and the reciprocal looked up
from the flags) + the output FIFO of
``axis_pipe_adapter`` (1).

Nanoseconds: those cycles at a clock that is met. The clock is the lower of the target clock
(board default or ``rtl.clock_mhz``) and the estimated Fmax of the ``rtl`` step's timing
estimate (before place & route); when Vivado's post-route timing exists (``bitstream`` step,
``vivado.wns_ns``), it replaces the estimate. The label says which one it is.
"""
from __future__ import annotations

FRONT_CYCLES = 1    # embedding ROM read (token flags); the core's input register follows
ROM_CYCLES = FRONT_CYCLES
FIFO_CYCLES = 1     # the adapter's output FIFO
FIFO_MIN_ADDR_W = 4

LABEL_ESTIMATE = "estimated before place & route"
LABEL_VIVADO = "Vivado post-route timing"
LABEL_NOMINAL = "at the target clock, no timing evidence"


def core_latency(stages: int) -> int:
    """Cycles through a da4ml core of ``stages`` pipeline stages (input and output registered)."""
    if stages < 1:
        raise ValueError(f"a pipelined core has at least one stage, got {stages}")
    return stages + 1


def gather_cycles(beats: int) -> int:
    """Cycles ``axis_request_gather`` adds to a request of ``beats`` beats (0 for one beat)."""
    if beats < 1:
        raise ValueError(f"a request has at least one beat, got {beats}")
    return 0 if beats == 1 else (beats - 1) + 1    # the other beats, then its output register


def top_cycles(core_stages: int, beats: int = 1) -> int:
    """Cycles of the AXI-Stream top around a core of ``core_stages`` stages (requests of ``beats``)."""
    return gather_cycles(beats) + FRONT_CYCLES + core_latency(core_stages) + FIFO_CYCLES


def fifo_addr_w(adapter_latency: int) -> int:
    """``FIFO_ADDR_W`` of ``axis_pipe_adapter``: depth ``2**w`` must exceed ``LATENCY + 2``
    (its registered ready flag ignores the cycle's accept and pop: a beat holds its credit for
    ``LATENCY + 1`` cycles and one more is kept free, so a ready sink sees one result per cycle)."""
    return max(FIFO_MIN_ADDR_W, (adapter_latency + 2).bit_length())


def vivado_fmax_mhz(target_mhz: float, wns_ns: float) -> float:
    """The clock a post-route worst negative slack ``wns_ns`` at ``target_mhz`` supports."""
    period = 1000.0 / target_mhz
    return target_mhz if wns_ns >= 0 else 1000.0 / (period - wns_ns)


def met_clock(target_mhz: float, timing: dict | None = None, vivado: dict | None = None) -> tuple[float, str]:
    """(clock in MHz that is met, label): the target capped by Vivado's result, else by the estimate."""
    if vivado and vivado.get("wns_ns") is not None:
        return min(target_mhz, vivado_fmax_mhz(target_mhz, float(vivado["wns_ns"]))), LABEL_VIVADO
    if timing and timing.get("fmax_mhz"):
        return min(target_mhz, float(timing["fmax_mhz"])), LABEL_ESTIMATE
    return target_mhz, LABEL_NOMINAL


def latency_figure(cycles: int, target_mhz: float, timing: dict | None = None,
                   vivado: dict | None = None) -> dict:
    """The one latency figure: ``cycles`` at the met clock, with its label and the target."""
    clock, label = met_clock(target_mhz, timing, vivado)
    return {"latency_cycles": int(cycles), "clock_mhz": round(clock, 3), "target_clock_mhz": target_mhz,
            "latency_ns": round(cycles * 1000.0 / clock, 2), "label": label,
            "meets_target": clock >= target_mhz}


def design_latency(steps: dict) -> dict | None:
    """The latency figure of a design from its step results (``rtl``, and ``bitstream`` if any)."""
    rtl = steps.get("rtl")
    if not rtl or "latency_cycles" not in rtl:
        return None
    bitstream = steps.get("bitstream") or {}
    vivado = bitstream.get("vivado") if isinstance(bitstream.get("vivado"), dict) else None
    target = rtl.get("target_clock_mhz", rtl.get("clock_mhz"))
    if not target:     # an rtl result from an older codesign
        return None
    return latency_figure(rtl["latency_cycles"], target, rtl.get("timing"), vivado)
