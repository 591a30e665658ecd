"""RTL of the design without vendor tools: da4ml core, AXI-Stream top, yosys estimate."""
from codesign.rtl import numba_cache as _numba_cache

_numba_cache.enable()     # before da4ml is imported: its compiled solver survives a fresh venv
