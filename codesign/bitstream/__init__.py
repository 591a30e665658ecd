"""The ``bitstream`` step: Vivado block design (tcl + .hwh) or Vitis kernel project per board.

Importable API for other steps and the simulated PYNQ device:
``codesign.bitstream.blockdesign.describe(board, layout) -> BlockDesign`` and
``codesign.bitstream.hwh.write_hwh(design, path)``.
"""
