// AXI-Stream top of the recommender: one request beat in, one score beat out.
//
// Request beat (codesign/stream.py): N node ids then L title token ids, ID_W bits each,
// id 0 first in the low bits. Score beat: the core's exact score accumulator, sign-extended
// to OUT_W bits (a two's-complement integer on the score's 2^-f grid; f in rtl/build.json).
//
// Datapath, LATENCY = CORE_LATENCY + 2 cycles (+ 1 for the adapter's output FIFO: the top's
// latency, codesign/latency.py top_cycles), two front cycles so no path runs from the stream
// port through more than one LUT level group (the timing estimate found the token count ->
// reciprocal lookup, 5 LUT levels from the port, limiting Fmax at 200 MHz):
//   cycle 1: the ids address the embedding ROMs (registered read; token id 0 reads the zero
//            row, which masks padding) and the non-padding flags of the L token ids are registered;
//   cycle 2: the ROM rows are registered again (a block RAM output register) and the pool's
//            reciprocal 1/count of the flagged tokens is looked up in RECIP_TABLE (entry c in
//            bits [c*RECIP_W +: RECIP_W]) and registered;
// then the da4ml core `recommender_core` (fully pipelined, input and output registered).
`timescale 1ns / 1ps
module recommender_top #(
    parameter N = 6,
    parameter L = 8,
    parameter ID_W = 16,
    parameter IN_W = 256,
    parameter NODE_W = 64,
    parameter NODE_DEPTH = 2626,
    parameter NODE_INIT = "",
    parameter RECIP_W = 8,
    parameter RECIP_TABLE = 72'h0,
    parameter TOK_W = 64,
    parameter TOK_DEPTH = 1024,
    parameter TOK_INIT = "",
    parameter CORE_OUT_W = 20,
    parameter CORE_LATENCY = 10,
    parameter SCORE_SIGNED = 1,
    parameter OUT_W = 32,
    parameter FIFO_ADDR_W = 5
) (
    input  wire             clk,
    input  wire             rst,
    input  wire [IN_W-1:0]  s_axis_tdata,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,
    input  wire             s_axis_tlast,
    output wire [OUT_W-1:0] m_axis_tdata,
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready,
    output wire             m_axis_tlast
);
    localparam COUNT_W = $clog2(L + 1);

    wire [IN_W-1:0]       req;
    wire [N*NODE_W-1:0]   node_rows;
    wire [L*TOK_W-1:0]    tok_rows;
    reg  [N*NODE_W-1:0]   node_rows_q;
    reg  [L*TOK_W-1:0]    tok_rows_q;
    reg  [L-1:0]          nonzero;
    reg  [RECIP_W-1:0]    recip;
    reg  [COUNT_W-1:0]    count;
    integer               t;
    wire [CORE_OUT_W-1:0] core_out;
    wire [OUT_W-1:0]      score = {{(OUT_W - CORE_OUT_W){SCORE_SIGNED ? core_out[CORE_OUT_W-1] : 1'b0}}, core_out};

    axis_pipe_adapter #(.IN_W(IN_W), .OUT_W(OUT_W), .LATENCY(CORE_LATENCY + 2), .FIFO_ADDR_W(FIFO_ADDR_W)) adapter (
        .clk(clk), .rst(rst),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .pipe_in(req), .pipe_out(score));

    // two ids per ROM (both ports of one block RAM)
    genvar j;
    generate
        for (j = 0; j < N; j = j + 2) begin : node_rom
            wire [NODE_W-1:0] unused_b;
            embedding_rom #(.WIDTH(NODE_W), .DEPTH(NODE_DEPTH), .ADDR_W(ID_W), .INIT_FILE(NODE_INIT)) rom (
                .clk(clk),
                .addr_a(req[j*ID_W +: ID_W]),
                .addr_b(j + 1 < N ? req[(j+1)*ID_W +: ID_W] : {ID_W{1'b0}}),
                .data_a(node_rows[j*NODE_W +: NODE_W]),
                .data_b(unused_b));
            if (j + 1 < N) begin : second
                assign node_rows[(j+1)*NODE_W +: NODE_W] = unused_b;
            end
        end
        for (j = 0; j < L; j = j + 2) begin : tok_rom
            wire [TOK_W-1:0] unused_b;
            embedding_rom #(.WIDTH(TOK_W), .DEPTH(TOK_DEPTH), .ADDR_W(ID_W), .INIT_FILE(TOK_INIT)) rom (
                .clk(clk),
                .addr_a(req[(N+j)*ID_W +: ID_W]),
                .addr_b(j + 1 < L ? req[(N+j+1)*ID_W +: ID_W] : {ID_W{1'b0}}),
                .data_a(tok_rows[j*TOK_W +: TOK_W]),
                .data_b(unused_b));
            if (j + 1 < L) begin : second
                assign tok_rows[(j+1)*TOK_W +: TOK_W] = unused_b;
            end
        end
    endgenerate

    always @(*) begin
        count = 0;
        for (t = 0; t < L; t = t + 1)
            count = count + nonzero[t];
    end

    always @(posedge clk) begin
        for (t = 0; t < L; t = t + 1)
            nonzero[t] <= |req[(N+t)*ID_W +: ID_W];
        recip       <= RECIP_TABLE[count*RECIP_W +: RECIP_W];
        node_rows_q <= node_rows;
        tok_rows_q  <= tok_rows;
    end

    recommender_core core (
        .clk(clk),
        .model_inp({recip, tok_rows_q, node_rows_q}),
        .model_out(core_out));
endmodule
