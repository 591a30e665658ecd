// A top that follows Vitis HLS port conventions, for testing the bench's port map:
// ap_clk, active-low ap_rst_n, block-level ap_ctrl_hs (ap_start/ap_done/ap_idle/ap_ready)
// and axis ports in_r/out_r (<port>_TDATA/_TVALID/_TREADY/_TLAST), as an hls4ml io_stream
// top exported by Vitis names them. Inside: our recommender, so the same vectors apply.
// While ap_start is low the kernel accepts nothing (ap_idle high).
`timescale 1ns / 1ps
module vitis_style_top #(
    parameter IN_W = 256,
    parameter OUT_W = 32
) (
    input  wire             ap_clk,
    input  wire             ap_rst_n,
    input  wire             ap_start,
    output wire             ap_done,
    output wire             ap_idle,
    output wire             ap_ready,
    input  wire [IN_W-1:0]  in_r_TDATA,
    input  wire             in_r_TVALID,
    output wire             in_r_TREADY,
    input  wire             in_r_TLAST,
    output wire [OUT_W-1:0] out_r_TDATA,
    output wire             out_r_TVALID,
    input  wire             out_r_TREADY,
    output wire             out_r_TLAST
);
    wire s_ready;
    assign in_r_TREADY = s_ready && ap_start;
    assign ap_idle     = !ap_start;
    assign ap_ready    = in_r_TVALID && in_r_TREADY && in_r_TLAST;
    assign ap_done     = out_r_TVALID && out_r_TREADY && out_r_TLAST;

    recommender kernel (
        .clk(ap_clk), .rst(!ap_rst_n),
        .s_axis_tdata(in_r_TDATA), .s_axis_tvalid(in_r_TVALID && ap_start), .s_axis_tready(s_ready),
        .s_axis_tlast(in_r_TLAST),
        .m_axis_tdata(out_r_TDATA), .m_axis_tvalid(out_r_TVALID), .m_axis_tready(out_r_TREADY),
        .m_axis_tlast(out_r_TLAST));
endmodule
