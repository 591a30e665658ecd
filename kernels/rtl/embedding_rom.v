// Embedding table as a ROM with two registered read ports (one block RAM, both ports).
// Row r holds the quantized embedding of id r: element 0 in the low bits, each element a
// two's-complement integer on the table's fixed-point grid. INIT_FILE is a $readmemh file
// generated from the trained model at build time. Ids must be < DEPTH.
`timescale 1ns / 1ps
module embedding_rom #(
    parameter WIDTH = 64,
    parameter DEPTH = 1024,
    parameter ADDR_W = 16,
    parameter INIT_FILE = ""
) (
    input  wire              clk,
    input  wire [ADDR_W-1:0] addr_a,
    input  wire [ADDR_W-1:0] addr_b,
    output reg  [WIDTH-1:0]  data_a,
    output reg  [WIDTH-1:0]  data_b
);
    (* rom_style = "block", ram_style = "block" *)
    reg [WIDTH-1:0] mem [0:DEPTH-1];

    initial $readmemh(INIT_FILE, mem);

    always @(posedge clk) begin
        data_a <= mem[addr_a];
        data_b <= mem[addr_b];
    end
endmodule
