"""RTL of the design without vendor tools: da4ml core, AXI-Stream top, yosys estimate."""
