// AXI-Stream wrapper of a fixed-latency, fully pipelined datapath (II = 1, no stall input).
//
// A request beat accepted at cycle t is presented on pipe_in in the same cycle; the
// datapath returns its result on pipe_out at cycle t + LATENCY. Results land in an output
// FIFO; backpressure works by credits: a beat holds a credit from its acceptance until its
// result leaves the FIFO, so the FIFO never overflows and a ready sink sees one result per
// cycle. tlast travels with its request (a DMA transfer of B requests ends with tlast on its
// B-th score). Synchronous, active-high reset drops everything in flight.
//
// Timing: every control signal is a register or one LUT level from one (the timing estimate
// found the combinational credit path rd_ptr -> tvalid -> pop -> credits_used -> tready
// limiting a 200 MHz design). s_axis_tready is a registered flag computed one cycle ahead
// from the credit count alone: it ignores the cycle's accept and pop, so it stays ready only
// while credits_used <= DEPTH - 2 (the cycle's accept can add one more). With a ready sink a
// beat holds its credit for LATENCY + 1 cycles, so full rate needs DEPTH >= LATENCY + 3:
// codesign/latency.py fifo_addr_w. m_axis_tvalid is a registered "not empty" flag.
`timescale 1ns / 1ps
module axis_pipe_adapter #(
    parameter IN_W = 256,
    parameter OUT_W = 32,
    parameter LATENCY = 4,            // >= 1
    parameter FIFO_ADDR_W = 5         // FIFO depth 2**FIFO_ADDR_W, must exceed LATENCY + 2
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
    output wire             m_axis_tlast,
    output wire [IN_W-1:0]  pipe_in,
    input  wire [OUT_W-1:0] pipe_out
);
    localparam DEPTH = 1 << FIFO_ADDR_W;

    initial begin
        if (DEPTH <= LATENCY + 2) begin
            $display("axis_pipe_adapter: FIFO depth %0d must exceed LATENCY + 2 = %0d", DEPTH, LATENCY + 2);
            $finish;
        end
    end

    reg  [LATENCY-1:0]   valid_sr;
    reg  [LATENCY-1:0]   last_sr;
    reg  [FIFO_ADDR_W:0] credits_used;   // in flight + stored
    reg  [FIFO_ADDR_W:0] stored;         // FIFO occupancy
    reg                  ready_q;        // credits_used <= DEPTH - 2 in the previous cycle
    reg                  not_empty;      // stored != 0
    reg  [OUT_W:0]       fifo [0:DEPTH-1];
    reg  [FIFO_ADDR_W-1:0] wr_ptr, rd_ptr;

    wire accept = s_axis_tvalid && s_axis_tready;
    wire pop    = not_empty && m_axis_tready;
    wire push   = valid_sr[LATENCY-1];

    assign s_axis_tready = !rst && ready_q;
    assign pipe_in       = s_axis_tdata;
    assign m_axis_tvalid = not_empty;
    assign {m_axis_tlast, m_axis_tdata} = fifo[rd_ptr];

    always @(posedge clk) begin
        if (rst) begin
            valid_sr     <= {LATENCY{1'b0}};
            last_sr      <= {LATENCY{1'b0}};
            credits_used <= 0;
            stored       <= 0;
            ready_q      <= 1'b0;
            not_empty    <= 1'b0;
            wr_ptr       <= 0;
            rd_ptr       <= 0;
        end else begin
            valid_sr     <= {valid_sr, accept};
            last_sr      <= {last_sr, s_axis_tlast};
            credits_used <= credits_used + accept - pop;
            ready_q      <= credits_used <= DEPTH - 2;
            stored       <= stored + push - pop;
            // stored + push - pop != 0, without the adder on the path
            not_empty    <= push || stored > 1 || (stored == 1 && !pop);
            if (push) wr_ptr <= wr_ptr + 1'b1;
            if (pop)  rd_ptr <= rd_ptr + 1'b1;
        end
        if (push) fifo[wr_ptr] <= {last_sr[LATENCY-1], pipe_out};
    end
endmodule
