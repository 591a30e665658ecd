"""cocotb simulation of the RTL: runner, reusable testbench pieces, the ``sim`` step."""
