// Reads the key-block list of a job (per query block: a count, then that many key-block
// indices; last marks the job's final beat), requests the Q and K/V blocks the core will visit
// from memory and queues work items for the engine. Checks the list and raises error flags.
module bsa_issuer #(
  // Q/K/V block buffer slots (requests are only issued into free slots).
  parameter int unsigned QSlots = 2,
  parameter int unsigned KvSlots = 2,
  // Largest number of query or key blocks in a job.
  parameter int unsigned MaxBlocks = 16,
  localparam int unsigned BlkW = $clog2(MaxBlocks + 1),
  localparam int unsigned IdxW = bsa_pkg::idx_w(MaxBlocks)
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  // Job start (one cycle) with the job's numbers of query and key blocks.
  input  logic            start_i,
  input  logic [BlkW-1:0] nq_i,
  input  logic [BlkW-1:0] nk_i,
  // Key-block list stream.
  input  logic            list_valid_i,
  output logic            list_ready_o,
  input  logic [bsa_pkg::ListW-1:0] list_data_i,
  input  logic            list_last_i,
  // Memory read requests: kv_o = 0 for a Q block (B rows), 1 for a K then V block (2B rows).
  output logic            req_valid_o,
  input  logic            req_ready_i,
  output logic            req_kv_o,
  output logic [IdxW-1:0] req_idx_o,
  // Work items for the engine: {row_end, has_q, last}.
  output logic            item_valid_o,
  input  logic            item_ready_i,
  output logic [2:0]      item_o,
  // Slot releases from the engine.
  input  logic            q_release_i,
  input  logic            kv_release_i,
  // Status and events.
  output logic            done_o,        // job's list fully read (stays high until next start)
  output logic [3:0]      err_o,         // {late, early, count, index} raised this cycle
  output logic            visit_o,       // one key block requested
  output logic            skip_o,        // a row ended ...
  output logic [BlkW-1:0] skip_n_o,      // ... with this many key blocks skipped
  output logic            beat_o         // one list beat consumed
);
  typedef enum logic [2:0] {StIdle, StBeat, StReqQ, StReqKv, StEnd, StDrain, StDone} state_e;
  state_e state_q, state_d;

  localparam int unsigned QW = $clog2(QSlots + 1);
  localparam int unsigned KW = $clog2(KvSlots + 1);

  logic [BlkW-1:0] nq_q, nk_q, row_q, nvis_q;
  logic [bsa_pkg::ListW-1:0] remain_q;
  logic [IdxW-1:0] data_q;
  logic expect_cnt_q, discard_q, has_q_q, row_done_q, last_q;
  logic [QW-1:0] q_used_q;
  logic [KW-1:0] kv_used_q;
  logic fire_beat, fire_q, fire_kv, fire_end, final_row;

  assign final_row = row_done_q && (row_q == nq_q - 1'b1);

  always_comb begin
    state_d      = state_q;
    list_ready_o = 1'b0;
    req_valid_o  = 1'b0;
    req_kv_o     = 1'b0;
    req_idx_o    = '0;
    item_valid_o = 1'b0;
    item_o       = '0;
    fire_q       = 1'b0;
    fire_kv      = 1'b0;
    fire_end     = 1'b0;
    case (state_q)
      StIdle: if (start_i) state_d = StBeat;
      StBeat: begin
        list_ready_o = 1'b1;
        if (list_valid_i) begin
          if (!expect_cnt_q && !discard_q && (list_data_i < bsa_pkg::ListW'(nk_q))) begin
            state_d = has_q_q ? StReqKv : StReqQ;
          end else begin
            state_d = StEnd;
          end
        end
      end
      StReqQ: begin
        req_valid_o = (q_used_q != QW'(QSlots));
        req_idx_o   = IdxW'(row_q);
        fire_q      = req_valid_o && req_ready_i;
        if (fire_q) state_d = StReqKv;
      end
      StReqKv: begin
        req_valid_o  = (kv_used_q != KW'(KvSlots)) && item_ready_i;
        req_kv_o     = 1'b1;
        req_idx_o    = IdxW'(data_q);
        item_valid_o = req_valid_o && req_ready_i;
        item_o       = 3'b000;
        fire_kv      = item_valid_o;
        if (fire_kv) state_d = StEnd;
      end
      StEnd: begin
        if (row_done_q || last_q) begin
          item_valid_o = 1'b1;
          item_o       = {1'b1, has_q_q, last_q || final_row};
          fire_end     = item_ready_i;
          if (fire_end) state_d = last_q ? StDone : (final_row ? StDrain : StBeat);
        end else begin
          state_d = StBeat;
        end
      end
      StDrain: begin
        list_ready_o = 1'b1;
        if (list_valid_i && list_last_i) state_d = StDone;
      end
      StDone: if (start_i) state_d = StBeat;
      default: state_d = StIdle;
    endcase
  end

  assign fire_beat = (state_q == StBeat) && list_valid_i;
  assign beat_o    = list_ready_o && list_valid_i;
  assign done_o    = (state_q == StDone);
  assign visit_o   = fire_kv;
  assign skip_o    = fire_end;
  assign skip_n_o  = nk_q - nvis_q;

  always_comb begin
    err_o = '0;
    if (fire_beat) begin
      if (expect_cnt_q && (list_data_i > bsa_pkg::ListW'(nk_q))) err_o[bsa_pkg::ErrCount] = 1'b1;
      if (!expect_cnt_q && !discard_q && (list_data_i >= bsa_pkg::ListW'(nk_q))) err_o[bsa_pkg::ErrIndex] = 1'b1;
    end
    if (fire_end) begin
      if (last_q && !final_row) err_o[bsa_pkg::ErrEarly] = 1'b1;
      if (!last_q && final_row) err_o[bsa_pkg::ErrLate] = 1'b1;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q      <= StIdle;
      nq_q         <= '0;
      nk_q         <= '0;
      row_q        <= '0;
      nvis_q       <= '0;
      remain_q     <= '0;
      data_q       <= '0;
      expect_cnt_q <= 1'b1;
      discard_q    <= 1'b0;
      has_q_q      <= 1'b0;
      row_done_q   <= 1'b0;
      last_q       <= 1'b0;
      q_used_q     <= '0;
      kv_used_q    <= '0;
    end else begin
      state_q <= state_d;
      q_used_q <= q_used_q + QW'(fire_q) - QW'(q_release_i);
      kv_used_q <= kv_used_q + KW'(fire_kv) - KW'(kv_release_i);
      if (start_i) begin
        nq_q         <= nq_i;
        nk_q         <= nk_i;
        row_q        <= '0;
        nvis_q       <= '0;
        expect_cnt_q <= 1'b1;
        discard_q    <= 1'b0;
        has_q_q      <= 1'b0;
      end
      if (fire_beat) begin
        data_q <= IdxW'(list_data_i);
        last_q <= list_last_i;
        if (expect_cnt_q) begin
          remain_q     <= list_data_i;
          discard_q    <= list_data_i > bsa_pkg::ListW'(nk_q);
          row_done_q   <= (list_data_i == '0);
          expect_cnt_q <= (list_data_i == '0);
        end else begin
          remain_q   <= remain_q - 1'b1;
          row_done_q <= (remain_q == bsa_pkg::ListW'(1));
        end
      end
      if (fire_q) has_q_q <= 1'b1;
      if (fire_kv) nvis_q <= nvis_q + 1'b1;
      if (fire_end) begin
        row_q        <= row_q + 1'b1;
        nvis_q       <= '0;
        has_q_q      <= 1'b0;
        discard_q    <= 1'b0;
        expect_cnt_q <= 1'b1;
        row_done_q   <= 1'b0;
      end
    end
  end
endmodule
