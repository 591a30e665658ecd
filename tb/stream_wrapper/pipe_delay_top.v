// Test top of axis_pipe_adapter: the datapath is a LATENCY-deep register chain computing
// out = in + 1 (a stand-in for any fully pipelined core).
`timescale 1ns / 1ps
module pipe_delay_top #(
    parameter W = 32,
    parameter LATENCY = 4,
    parameter FIFO_ADDR_W = 4
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] s_axis_tdata,
    input  wire         s_axis_tvalid,
    output wire         s_axis_tready,
    input  wire         s_axis_tlast,
    output wire [W-1:0] m_axis_tdata,
    output wire         m_axis_tvalid,
    input  wire         m_axis_tready,
    output wire         m_axis_tlast
);
    wire [W-1:0] pipe_in;
    reg  [W-1:0] chain [0:LATENCY-1];
    integer i;

    always @(posedge clk) begin
        chain[0] <= pipe_in + 1'b1;
        for (i = 1; i < LATENCY; i = i + 1)
            chain[i] <= chain[i-1];
    end

    axis_pipe_adapter #(.IN_W(W), .OUT_W(W), .LATENCY(LATENCY), .FIFO_ADDR_W(FIFO_ADDR_W)) dut (
        .clk(clk), .rst(rst),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .pipe_in(pipe_in), .pipe_out(chain[LATENCY-1]));
endmodule
