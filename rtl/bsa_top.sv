// Block-sparse attention core for one head: O = softmax(Q.K^T * scale) . V over INT8 Q, K, V.
//
// A job starts with a command (numbers of query and key blocks, the scale). The key-block list
// arrives on the list stream: per query block a count, then that many key-block indices; last
// marks the final beat of the job. The core requests the Q and K/V blocks it visits from memory
// (req: kind and block index; rsp: one row of HeadDim bytes per beat, in request order), so
// skipped blocks cost neither bandwidth nor compute cycles. It emits one output row (HeadDim INT8)
// per beat, in order, with an empty flag for rows that visited no key block (output zeros).
// busy_o is high during a job; done_o pulses at its end, when err_o and cnt_o hold the job's
// error flags and performance counters (until the next command).
module bsa_top #(
  // Rows per query block = keys per key block (a power of two >= 2).
  parameter int unsigned Block = 8,
  // Head dimension (a power of two).
  parameter int unsigned HeadDim = 16,
  // MACs per cycle; a power of two dividing Block and HeadDim.
  parameter int unsigned Macs = 4,
  // K/V block buffer slots (a power of two >= 2): prefetch depth.
  parameter int unsigned KvSlots = 2,
  // Largest number of query or key blocks in a job.
  parameter int unsigned MaxBlocks = 16,
  localparam int unsigned BlkW = $clog2(MaxBlocks + 1),
  localparam int unsigned IdxW = bsa_pkg::idx_w(MaxBlocks)
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  // Job command.
  input  logic                   cmd_valid_i,
  output logic                   cmd_ready_o,
  input  logic [BlkW-1:0]        cmd_nq_i,
  input  logic [BlkW-1:0]        cmd_nk_i,
  input  logic [bsa_pkg::ScaleW-1:0]      cmd_scale_i,
  input  logic [bsa_pkg::ShiftW-1:0]      cmd_shift_i,
  // Key-block list.
  input  logic                   list_valid_i,
  output logic                   list_ready_o,
  input  logic [bsa_pkg::ListW-1:0]       list_data_i,
  input  logic                   list_last_i,
  // Memory read requests and responses.
  output logic                   req_valid_o,
  input  logic                   req_ready_i,
  output logic                   req_kv_o,
  output logic [IdxW-1:0]        req_idx_o,
  input  logic                   rsp_valid_i,
  output logic                   rsp_ready_o,
  input  logic [HeadDim*8-1:0]   rsp_data_i,
  // Output rows.
  output logic                   out_valid_o,
  input  logic                   out_ready_i,
  output logic [HeadDim*8-1:0]   out_data_o,
  output logic                   out_empty_o,
  output logic                   out_last_o,
  // Status, errors and counters.
  output logic                   busy_o,
  output logic                   done_o,
  output logic [bsa_pkg::NumErr-1:0]      err_o,
  output logic [bsa_pkg::NumCnt*bsa_pkg::CntW-1:0] cnt_o
);
  localparam int unsigned BW = bsa_pkg::idx_w(Block);
  localparam int unsigned KSW = bsa_pkg::idx_w(KvSlots);

  logic active_q, eng_end_q, done_q;
  logic [bsa_pkg::ScaleW-1:0] scale_q;
  logic [bsa_pkg::ShiftW-1:0] shift_q;
  logic [bsa_pkg::NumErr-1:0] err_q;
  logic [bsa_pkg::CntW-1:0] cnt_q [bsa_pkg::NumCnt];
  logic cmd_fire, cmd_bad, start;

  assign cmd_ready_o = !active_q;
  assign cmd_fire    = cmd_valid_i && cmd_ready_o;
  assign cmd_bad     = (cmd_nq_i == '0) || (cmd_nq_i > BlkW'(MaxBlocks)) || (cmd_nk_i > BlkW'(MaxBlocks));
  assign start       = cmd_fire && !cmd_bad;

  // ---------------------------------------------------------------- issuer, FIFOs, loader, engine
  logic iss_req_valid, iss_req_ready, tag_push_ready;
  logic item_valid, item_ready, eng_item_valid, eng_item_ready;
  logic [2:0] item, eng_item;
  logic tag_valid, tag_ready, tag;
  logic q_release, kv_release, q_avail, kv_avail, iss_done;
  logic [3:0] iss_err;
  logic ev_visit, ev_skip, ev_beat;
  logic [BlkW-1:0] skip_n;

  // A request is issued only when its tag can be queued.
  assign req_valid_o   = iss_req_valid && tag_push_ready;
  assign iss_req_ready = req_ready_i && tag_push_ready;

  bsa_issuer #(.QSlots(2), .KvSlots(KvSlots), .MaxBlocks(MaxBlocks)) u_issuer (
    .clk_i, .rst_ni,
    .start_i(start), .nq_i(cmd_nq_i), .nk_i(cmd_nk_i),
    .list_valid_i, .list_ready_o, .list_data_i, .list_last_i,
    .req_valid_o(iss_req_valid), .req_ready_i(iss_req_ready), .req_kv_o, .req_idx_o,
    .item_valid_o(item_valid), .item_ready_i(item_ready), .item_o(item),
    .q_release_i(q_release), .kv_release_i(kv_release),
    .done_o(iss_done), .err_o(iss_err), .visit_o(ev_visit), .skip_o(ev_skip), .skip_n_o(skip_n),
    .beat_o(ev_beat)
  );

  bsa_fifo #(.Width(1), .Depth(2 + KvSlots)) u_tags (
    .clk_i, .rst_ni,
    .valid_i(req_valid_o && req_ready_i), .ready_o(tag_push_ready), .data_i(req_kv_o),
    .valid_o(tag_valid), .ready_i(tag_ready), .data_o(tag)
  );

  bsa_fifo #(.Width(3), .Depth(4)) u_items (
    .clk_i, .rst_ni,
    .valid_i(item_valid), .ready_o(item_ready), .data_i(item),
    .valid_o(eng_item_valid), .ready_i(eng_item_ready), .data_o(eng_item)
  );

  logic wr_q, wr_k, wr_v, wr_qslot;
  logic [KSW-1:0] wr_kvslot;
  logic [BW-1:0] wr_row;

  bsa_loader #(.Block(Block), .KvSlots(KvSlots)) u_loader (
    .clk_i, .rst_ni,
    .tag_valid_i(tag_valid), .tag_ready_o(tag_ready), .tag_i(tag),
    .rsp_valid_i, .rsp_ready_o,
    .wr_q_o(wr_q), .wr_k_o(wr_k), .wr_v_o(wr_v), .wr_qslot_o(wr_qslot), .wr_kvslot_o(wr_kvslot),
    .wr_row_o(wr_row),
    .q_avail_o(q_avail), .kv_avail_o(kv_avail), .q_release_i(q_release), .kv_release_i(kv_release)
  );

  logic ev_busy, ev_wait, ev_exp, ev_rescale, ev_divide, eng_end;
  logic [7:0] ev_sram_rd;

  bsa_engine #(
    .Block(Block), .HeadDim(HeadDim), .Macs(Macs), .KvSlots(KvSlots), .MaxBlocks(MaxBlocks)
  ) u_engine (
    .clk_i, .rst_ni,
    .scale_i(scale_q), .shift_i(shift_q),
    .item_valid_i(eng_item_valid), .list_done_i(iss_done), .item_ready_o(eng_item_ready), .item_i(eng_item),
    .q_avail_i(q_avail), .kv_avail_i(kv_avail), .q_release_o(q_release), .kv_release_o(kv_release),
    .wr_q_i(wr_q), .wr_k_i(wr_k), .wr_v_i(wr_v), .wr_qslot_i(wr_qslot), .wr_kvslot_i(wr_kvslot),
    .wr_row_i(wr_row), .wr_data_i(rsp_data_i),
    .out_valid_o, .out_ready_i, .out_data_o, .out_empty_o, .out_last_o,
    .ev_busy_o(ev_busy), .ev_wait_o(ev_wait), .ev_exp_o(ev_exp), .ev_rescale_o(ev_rescale),
    .ev_divide_o(ev_divide), .ev_sram_rd_o(ev_sram_rd), .job_end_o(eng_end)
  );

  // ---------------------------------------------------------------- job control and counters
  logic finish;
  assign finish = active_q && iss_done && (eng_end_q || eng_end);
  assign busy_o = active_q;
  assign done_o = done_q;
  assign err_o  = err_q;

  logic [bsa_pkg::CntW-1:0] inc [bsa_pkg::NumCnt];
  always_comb begin
    inc[bsa_pkg::CntTotal]     = bsa_pkg::CntW'(1);
    inc[bsa_pkg::CntBusy]      = bsa_pkg::CntW'(ev_busy);
    inc[bsa_pkg::CntStall]     = bsa_pkg::CntW'(ev_wait);
    inc[bsa_pkg::CntVisited]   = bsa_pkg::CntW'(ev_visit);
    inc[bsa_pkg::CntSkipped]   = ev_skip ? bsa_pkg::CntW'(skip_n) : '0;
    inc[bsa_pkg::CntMacs]      = ev_busy ? bsa_pkg::CntW'(Macs) : '0;
    inc[bsa_pkg::CntExps]      = bsa_pkg::CntW'(ev_exp);
    inc[bsa_pkg::CntRescales]  = bsa_pkg::CntW'(ev_rescale);
    inc[bsa_pkg::CntDivides]   = bsa_pkg::CntW'(ev_divide);
    inc[bsa_pkg::CntSramRd]    = bsa_pkg::CntW'(ev_sram_rd);
    inc[bsa_pkg::CntSramWr]    = (wr_q || wr_k || wr_v) ? bsa_pkg::CntW'(HeadDim) : '0;
    inc[bsa_pkg::CntStreamIn]  = ((rsp_valid_i && rsp_ready_o) ? bsa_pkg::CntW'(HeadDim) : '0)
                        + (ev_beat ? bsa_pkg::CntW'(bsa_pkg::ListW / 8) : '0);
    inc[bsa_pkg::CntStreamOut] = (out_valid_o && out_ready_i) ? bsa_pkg::CntW'(HeadDim) : '0;
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      active_q  <= 1'b0;
      eng_end_q <= 1'b0;
      done_q    <= 1'b0;
      scale_q   <= '0;
      shift_q   <= '0;
      err_q     <= '0;
      for (int k = 0; k < bsa_pkg::NumCnt; k++) cnt_q[k] <= '0;
    end else begin
      done_q <= 1'b0;
      if (cmd_fire) begin
        active_q  <= !cmd_bad;
        done_q    <= cmd_bad;
        eng_end_q <= 1'b0;
        scale_q   <= cmd_scale_i;
        shift_q   <= cmd_shift_i;
        err_q     <= cmd_bad ? bsa_pkg::NumErr'(1 << bsa_pkg::ErrCmd) : '0;
        for (int k = 0; k < bsa_pkg::NumCnt; k++) cnt_q[k] <= '0;
      end else if (active_q) begin
        err_q <= err_q | bsa_pkg::NumErr'(iss_err);
        if (eng_end) eng_end_q <= 1'b1;
        for (int k = 0; k < bsa_pkg::NumCnt; k++) cnt_q[k] <= cnt_q[k] + inc[k];
        if (finish) begin
          active_q <= 1'b0;
          done_q   <= 1'b1;
        end
      end
    end
  end

`ifndef SYNTHESIS
  // Elaboration-time parameter checks.
  if ((Block & (Block - 1)) != 0 || Block < 2) begin : gen_chk_block
    $error("Block must be a power of two >= 2");
  end
  if ((HeadDim & (HeadDim - 1)) != 0) begin : gen_chk_head_dim
    $error("HeadDim must be a power of two");
  end
  if (Block % Macs != 0 || HeadDim % Macs != 0) begin : gen_chk_macs
    $error("Macs must divide Block and HeadDim");
  end
  if ((KvSlots & (KvSlots - 1)) != 0 || KvSlots < 2) begin : gen_chk_kv_slots
    $error("KvSlots must be a power of two >= 2");
  end
  always_ff @(posedge clk_i) begin
    if (finish) begin
      assert (!out_valid_o || out_ready_i) else $error("job finished with an output row still pending");
    end
  end
`endif

  always_comb begin
    for (int k = 0; k < bsa_pkg::NumCnt; k++) cnt_o[k*bsa_pkg::CntW +: bsa_pkg::CntW] = cnt_q[k];
  end
endmodule
