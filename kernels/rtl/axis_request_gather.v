// Gathers the BEATS beats of one request (codesign/stream.py: a request wider than the
// stream is sent as beats_per_request beats, beat 0 first) into one request word for the
// fully pipelined core (axis_pipe_adapter), beat 0 in the low bits.
//
// Beats 0..BEATS-2 go into a holding register; the last beat is taken together with them
// into the output register (m_tdata, m_tvalid, m_tlast), so a request leaves one cycle after
// its last beat was accepted (latency 1 cycle from the last beat, BEATS cycles from the first)
// and a ready sink sees one request every BEATS cycles at one beat per cycle: full throughput.
// Outputs are registered; there is no combinational path from s_* to m_* (s_axis_tready
// depends on m_tready only while the last beat of a request waits for the output register).
// m_tlast is the tlast of the request's last beat (tlast on other beats is ignored).
// Synchronous, active-high reset drops a partly gathered request and the output register.
`timescale 1ns / 1ps
module axis_request_gather #(
    parameter BEAT_W = 256,
    parameter BEATS = 2               // >= 2 (one beat per request needs no gather)
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire [BEAT_W-1:0]        s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    input  wire                     s_axis_tlast,
    output wire [BEAT_W*BEATS-1:0]  m_tdata,
    output wire                     m_tvalid,
    input  wire                     m_tready,
    output wire                     m_tlast
);
    localparam CW = (BEATS > 2) ? $clog2(BEATS) : 1;

    initial begin
        if (BEATS < 2) begin
            $display("axis_request_gather: BEATS = %0d, must be >= 2", BEATS);
            $finish;
        end
    end

    reg [BEAT_W*(BEATS-1)-1:0] held;       // beats 0..BEATS-2 of the request being gathered
    reg [CW-1:0]               count;      // beats of it accepted so far
    reg [BEAT_W*BEATS-1:0]     out_data;
    reg                        out_valid;
    reg                        out_last;

    wire last_beat = (count == BEATS - 1);
    assign s_axis_tready = !last_beat || !out_valid || m_tready;
    wire take = s_axis_tvalid && s_axis_tready;

    always @(posedge clk) begin
        if (rst) begin
            count <= 0;
            out_valid <= 1'b0;
            out_last <= 1'b0;
        end else begin
            if (out_valid && m_tready)
                out_valid <= 1'b0;
            if (take) begin
                if (last_beat) begin
                    count <= 0;
                    out_valid <= 1'b1;
                    out_last <= s_axis_tlast;
                end else begin
                    count <= count + 1'b1;
                end
            end
        end
    end

    // data registers: no reset needed (qualified by count / out_valid)
    always @(posedge clk) begin
        if (take) begin
            if (last_beat)
                out_data <= {s_axis_tdata, held};
            else
                held[count*BEAT_W +: BEAT_W] <= s_axis_tdata;
        end
    end

    assign m_tdata = out_data;
    assign m_tvalid = out_valid;
    assign m_tlast = out_last;
endmodule
