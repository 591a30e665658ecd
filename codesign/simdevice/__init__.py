"""The simulated PYNQ device (workstation side): AXI DMA register model, non-coherent memory, backends."""
