// Steers memory response beats (one row of D bytes each) into the Q and K/V block buffers, in the
// order the blocks were requested, and counts the loaded blocks for the engine.
module bsa_loader #(
  // Rows per block (a power of two).
  parameter int unsigned Block = 8,
  // K/V block buffer slots (a power of two).
  parameter int unsigned KvSlots = 2,
  localparam int unsigned BW = bsa_pkg::idx_w(Block),
  localparam int unsigned KSW = bsa_pkg::idx_w(KvSlots)
) (
  input  logic           clk_i,
  input  logic           rst_ni,
  // Kind of each issued request, in order (0 = Q block, 1 = K then V block).
  input  logic           tag_valid_i,
  output logic           tag_ready_o,
  input  logic           tag_i,
  // Memory responses.
  input  logic           rsp_valid_i,
  output logic           rsp_ready_o,
  // Buffer write strobes and address.
  output logic           wr_q_o,
  output logic           wr_k_o,
  output logic           wr_v_o,
  output logic           wr_qslot_o,
  output logic [KSW-1:0] wr_kvslot_o,
  output logic [BW-1:0]  wr_row_o,
  // Loaded blocks: availability of the oldest one, releases from the engine.
  output logic           q_avail_o,
  output logic           kv_avail_o,
  input  logic           q_release_i,
  input  logic           kv_release_i
);
  logic [BW:0] beat_q;  // beat within the block: K rows then V rows for a K/V block
  logic qslot_q;
  logic [KSW-1:0] kvslot_q;
  logic [1:0] q_loaded_q;
  logic [KSW:0] kv_loaded_q;
  logic fire, blk_done;

  assign rsp_ready_o = tag_valid_i;
  assign fire        = rsp_valid_i && rsp_ready_o;
  assign wr_q_o      = fire && !tag_i;
  assign wr_k_o      = fire && tag_i && !beat_q[BW];
  assign wr_v_o      = fire && tag_i && beat_q[BW];
  assign wr_qslot_o  = qslot_q;
  assign wr_kvslot_o = kvslot_q;
  assign wr_row_o    = beat_q[BW-1:0];
  assign blk_done    = fire && (tag_i ? (beat_q == {1'b1, {BW{1'b1}}}) : (beat_q[BW-1:0] == '1));
  assign tag_ready_o = blk_done;
  assign q_avail_o   = (q_loaded_q != '0);
  assign kv_avail_o  = (kv_loaded_q != '0);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      beat_q      <= '0;
      qslot_q     <= 1'b0;
      kvslot_q    <= '0;
      q_loaded_q  <= '0;
      kv_loaded_q <= '0;
    end else begin
      if (fire) beat_q <= blk_done ? '0 : beat_q + 1'b1;
      if (blk_done && !tag_i) qslot_q <= ~qslot_q;
      if (blk_done && tag_i) kvslot_q <= (kvslot_q == KSW'(KvSlots - 1)) ? '0 : kvslot_q + 1'b1;
      q_loaded_q  <= q_loaded_q + 2'(blk_done && !tag_i) - 2'(q_release_i);
      kv_loaded_q <= kv_loaded_q + (KSW + 1)'(blk_done && tag_i) - (KSW + 1)'(kv_release_i);
    end
  end
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    begin
      assert (q_loaded_q <= 2'd2) else $error("more than two Q blocks loaded: Q buffer overwritten");
      assert (kv_loaded_q <= (KSW + 1)'(KvSlots)) else $error("more K/V blocks loaded than KvSlots");
      assert (!(q_release_i && q_loaded_q == '0)) else $error("Q slot released but none loaded");
      assert (!(kv_release_i && kv_loaded_q == '0)) else $error("K/V slot released but none loaded");
    end
  end
`endif
endmodule
