// Compute engine: on-chip Q/K/V block buffers, S = Q.K^T and O += P.V on one array of Macs
// multipliers, online base-2 softmax (running max per row, rescale by right shift), and the
// per-row epilogue (one reciprocal per row by a sequential divider, then INT8 outputs).
module bsa_engine #(
  // Rows per query block = keys per key block (a power of two).
  parameter int unsigned Block = 8,
  // Head dimension (a power of two).
  parameter int unsigned HeadDim = 16,
  // Multipliers (MACs per cycle); divides Block and HeadDim.
  parameter int unsigned Macs = 4,
  // K/V block buffer slots (a power of two).
  parameter int unsigned KvSlots = 2,
  // Largest number of key blocks per row (sizes the accumulators).
  parameter int unsigned MaxBlocks = 16,
  localparam int unsigned BW = bsa_pkg::idx_w(Block),
  localparam int unsigned KSW = bsa_pkg::idx_w(KvSlots)
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  // Job scale: x = (S * scale + 2^(shift-1)) >> shift.
  input  logic [bsa_pkg::ScaleW-1:0]      scale_i,
  input  logic [bsa_pkg::ShiftW-1:0]      shift_i,
  // Work items {row_end, has_q, last}.
  input  logic                   item_valid_i,
  // The issuer has read the whole list: no more items will come (idle is then not a stall).
  input  logic                   list_done_i,
  output logic                   item_ready_o,
  input  logic [2:0]             item_i,
  // The oldest Q / K,V slot is loaded; release it when used.
  input  logic                   q_avail_i,
  input  logic                   kv_avail_i,
  output logic                   q_release_o,
  output logic                   kv_release_o,
  // Buffer write port (one row per cycle) from the loader.
  input  logic                   wr_q_i,
  input  logic                   wr_k_i,
  input  logic                   wr_v_i,
  input  logic                   wr_qslot_i,
  input  logic [KSW-1:0]         wr_kvslot_i,
  input  logic [BW-1:0]          wr_row_i,
  input  logic [HeadDim*8-1:0]   wr_data_i,
  // Output rows.
  output logic                   out_valid_o,
  input  logic                   out_ready_i,
  output logic [HeadDim*8-1:0]   out_data_o,
  output logic                   out_empty_o,
  output logic                   out_last_o,
  // Events for the performance counters.
  output logic                   ev_busy_o,
  output logic                   ev_wait_o,
  output logic                   ev_exp_o,
  output logic                   ev_rescale_o,
  output logic                   ev_divide_o,
  output logic [7:0]             ev_sram_rd_o,
  output logic                   job_end_o
);
  localparam int unsigned B = Block;
  localparam int unsigned D = HeadDim;
  localparam int unsigned P = Macs;
  localparam int unsigned NC = B / P;  // key chunks per row in the S phase
  localparam int unsigned NJ = D / P;  // head-dim chunks per key in the PV phase
  localparam int unsigned DW = bsa_pkg::idx_w(D);
  localparam int unsigned CW = bsa_pkg::idx_w(NC);
  localparam int unsigned JW = bsa_pkg::idx_w(NJ);
  localparam int unsigned Keys = $clog2(B * MaxBlocks);
  localparam int unsigned SW = 17 + $clog2(D);
  localparam int unsigned LW = bsa_pkg::ProbFrac + 1 + Keys;
  localparam int unsigned AW = bsa_pkg::ProbFrac + 8 + Keys + 1;
  localparam int unsigned RS = LW + 12;
  localparam int unsigned QuoW = RS - 6;
  localparam int unsigned XPW = SW + bsa_pkg::ScaleW + 1;
  localparam int unsigned OPW = AW + QuoW + 1;
  localparam int unsigned DivW = $clog2(QuoW + 1);

  typedef enum logic [1:0] {StIdle, StS, StPv} state_e;
  typedef enum logic [2:0] {EpIdle, EpRow, EpDiv, EpMul, EpOut} ep_state_e;
  state_e state_q, state_d;
  ep_state_e ep_q, ep_d;

  // Buffers.
  logic [D*8-1:0] qbuf_q [2*B];
  logic [D*8-1:0] kbuf_q [KvSlots*B];
  logic [D*8-1:0] vbuf_q [KvSlots*B];
  logic signed [bsa_pkg::LogitW-1:0] sbuf_q [B*B];
  logic signed [AW-1:0] acc_q [B*D];
  // Per-row softmax state.
  logic [LW-1:0] lsum_q [B];
  logic signed [bsa_pkg::MaxW-1:0] mrow_q [B];
  logic [bsa_pkg::DeltaW-1:0] delta_q [B];
  logic [B-1:0] rvalid_q, fresh_q, rready_q;
  // Loop counters and slot pointers.
  logic [BW-1:0] r_q, c_q;
  logic [CW-1:0] cc_q;
  logic [DW-1:0] d_q;
  logic [JW-1:0] j_q;
  logic q_rd_q;
  logic [KSW-1:0] kv_rd_q;
  // S-phase lane accumulators and the drain (one score per cycle through the scaler).
  logic signed [SW-1:0] sacc_q [P];
  logic signed [SW-1:0] dreg_q [P];
  logic [BW-1:0] drow_q;
  logic [BW-1:0] dcol_q;
  logic [$clog2(P+1)-1:0] dcnt_q;
  logic signed [bsa_pkg::LogitW-1:0] rmax_q;
  // Epilogue (runs beside the next query block's compute; row r is read before PV rewrites it).
  logic [B-1:0] ep_valid_q;
  logic last_q;
  logic [BW-1:0] er_q;
  logic [DW-1:0] ed_q;
  logic [LW-1:0] rem_q;
  logic [QuoW-1:0] quo_q;
  logic [DivW-1:0] div_q;
  logic [D*8-1:0] orow_q;
  logic oempty_q;

  // ---------------------------------------------------------------- multiplier array
  logic signed [9:0] mul_a [P];
  logic signed [7:0] mul_b [P];
  logic signed [17:0] prod [P];
  logic signed [SW-1:0] sacc_d [P];
  logic signed [AW-1:0] acc_d [P];
  logic [bsa_pkg::ProbFrac:0] p;
  logic signed [bsa_pkg::LogitW-1:0] xpv;
  logic pv_go, s_last, pv_last, latch;

  logic row_free;
  assign row_free = (ep_q == EpIdle) || (er_q > r_q);
  assign pv_go  = (state_q == StPv) && ((c_q != '0) || (j_q != '0) || (rready_q[r_q] && row_free));
  assign s_last = (r_q == BW'(B - 1)) && (cc_q == CW'(NC - 1)) && (d_q == DW'(D - 1));
  assign pv_last = (r_q == BW'(B - 1)) && (c_q == BW'(B - 1)) && (j_q == JW'(NJ - 1));
  assign latch  = (state_q == StS) && (d_q == DW'(D - 1));

  assign xpv = sbuf_q[{r_q, c_q}];
  bsa_exp2 u_exp2 (
    .y_i((bsa_pkg::LogitW + 2)'(xpv) - ((bsa_pkg::LogitW + 2)'(mrow_q[r_q]) <<< bsa_pkg::LogitFrac)),
    .p_o(p)
  );

  always_comb begin
    for (int i = 0; i < P; i++) begin
      if (state_q == StS) begin
        mul_a[i] = 10'(signed'(qbuf_q[{q_rd_q, r_q}][d_q*8 +: 8]));
        mul_b[i] = kbuf_q[{kv_rd_q, BW'(int'(cc_q) * P + i)}][d_q*8 +: 8];
      end else begin
        mul_a[i] = signed'({1'b0, p});
        mul_b[i] = vbuf_q[{kv_rd_q, c_q}][(int'(j_q) * P + i)*8 +: 8];
      end
      prod[i] = mul_a[i] * mul_b[i];
      sacc_d[i] = ((d_q == '0) ? '0 : sacc_q[i]) + SW'(prod[i]);
      if (c_q != '0) begin
        acc_d[i] = acc_q[{r_q, DW'(int'(j_q) * P + i)}];
      end else if (fresh_q[r_q]) begin
        acc_d[i] = '0;
      end else begin
        acc_d[i] = acc_q[{r_q, DW'(int'(j_q) * P + i)}] >>> delta_q[r_q];
      end
      acc_d[i] = acc_d[i] + AW'(prod[i]);
    end
  end

  // ---------------------------------------------------------------- drain: scaler and row max
  localparam logic signed [XPW-1:0] XHi = XPW'(2 ** (bsa_pkg::LogitW - 1) - 1);
  localparam logic signed [XPW-1:0] XLo = -XPW'(2 ** (bsa_pkg::LogitW - 1));
  localparam logic signed [bsa_pkg::LogitW:0] MRound = (bsa_pkg::LogitW + 1)'(2 ** bsa_pkg::LogitFrac - 1);
  logic signed [XPW-1:0] xprod, xshift, xrnd;
  logic signed [bsa_pkg::LogitW:0] xmax_ext;
  logic signed [bsa_pkg::LogitW-1:0] xval, xmax;
  logic signed [bsa_pkg::MaxW-1:0] mcand, mnew;
  logic [bsa_pkg::MaxW-1:0] mdiff;
  logic drain, row_end;

  assign drain   = (dcnt_q != '0);
  assign row_end = drain && (dcol_q == BW'(B - 1));

  always_comb begin
    xprod  = XPW'(dreg_q[0]) * signed'(XPW'({1'b0, scale_i}));
    xrnd   = signed'((XPW'(1) << shift_i) >> 1);
    xshift = (xprod + xrnd) >>> shift_i;
    if (xshift > XHi) begin
      xval = XHi[bsa_pkg::LogitW-1:0];
    end else if (xshift < XLo) begin
      xval = XLo[bsa_pkg::LogitW-1:0];
    end else begin
      xval = bsa_pkg::LogitW'(xshift);
    end
    xmax  = ((dcol_q == '0) || (xval > rmax_q)) ? xval : rmax_q;
    xmax_ext = (bsa_pkg::LogitW + 1)'(xmax) + MRound;
    mcand = bsa_pkg::MaxW'(xmax_ext >>> bsa_pkg::LogitFrac);
    mnew  = (rvalid_q[drow_q] && (mrow_q[drow_q] > mcand)) ? mrow_q[drow_q] : mcand;
    mdiff = rvalid_q[drow_q] ? bsa_pkg::MaxW'(mnew - mrow_q[drow_q]) : '0;
  end

  // ---------------------------------------------------------------- epilogue arithmetic
  logic [LW:0] rem2;
  localparam logic signed [OPW-1:0] ORound = OPW'(1) <<< (RS - 1);
  localparam logic signed [OPW-1:0] OHi = OPW'(127);
  localparam logic signed [OPW-1:0] OLo = -OPW'(128);
  logic signed [OPW-1:0] oprod, oshift;
  logic [7:0] obyte;

  always_comb begin
    rem2   = {rem_q, 1'b0};
    oprod  = OPW'(acc_q[{er_q, ed_q}]) * signed'(OPW'({1'b0, quo_q}));
    oshift = (oprod + ORound) >>> RS;
    if (oshift > OHi) begin
      obyte = 8'd127;
    end else if (oshift < OLo) begin
      obyte = 8'h80;
    end else begin
      obyte = oshift[7:0];
    end
  end

  // ---------------------------------------------------------------- control
  logic take_end;
  always_comb begin
    state_d      = state_q;
    item_ready_o = 1'b0;
    take_end     = 1'b0;
    ev_wait_o    = 1'b0;
    case (state_q)
      StIdle: begin
        if (!item_valid_i) begin
          ev_wait_o = !list_done_i;
        end else if (item_i[2]) begin
          item_ready_o = (ep_q == EpIdle);
          take_end     = item_ready_o;
        end else if (q_avail_i && kv_avail_i) begin
          item_ready_o = 1'b1;
          state_d = StS;
        end else begin
          ev_wait_o = 1'b1;
        end
      end
      StS: if (s_last) state_d = StPv;
      StPv: if (pv_go && pv_last) state_d = StIdle;
      default: state_d = StIdle;
    endcase
    if (!ev_busy_o && out_valid_o && !out_ready_i) ev_wait_o = 1'b1;
  end

  always_comb begin
    ep_d = ep_q;
    case (ep_q)
      EpIdle: if (take_end) ep_d = EpRow;
      EpRow: ep_d = ep_valid_q[er_q] ? EpDiv : EpOut;
      EpDiv: if (div_q == DivW'(1)) ep_d = EpMul;
      EpMul: if (ed_q == DW'(D - 1)) ep_d = EpOut;
      EpOut: if (out_ready_i) ep_d = (er_q == BW'(B - 1)) ? EpIdle : EpRow;
      default: ep_d = EpIdle;
    endcase
  end

  assign out_valid_o  = (ep_q == EpOut);
  assign out_data_o   = orow_q;
  assign out_empty_o  = oempty_q;
  assign out_last_o   = last_q && (er_q == BW'(B - 1));
  assign ev_busy_o    = (state_q == StS) || pv_go;
  assign ev_exp_o     = pv_go && (j_q == '0);
  assign ev_rescale_o = row_end && rvalid_q[drow_q] && (mdiff != '0);
  assign ev_divide_o  = (ep_q == EpRow) && ep_valid_q[er_q];
  assign ev_sram_rd_o = (state_q == StS) ? 8'(P + 1) : (pv_go ? 8'(P) : 8'd0);
  assign kv_release_o = pv_go && pv_last;
  assign q_release_o  = take_end && item_i[1];
  assign job_end_o    = (ep_q == EpOut) && out_ready_i && (er_q == BW'(B - 1)) && last_q;

`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    begin
      assert (!(latch && drain && dcnt_q != 1)) else $error("score drain overrun: HeadDim < Macs");
      assert (!(state_q == StS && !q_avail_i)) else $error("S phase with no Q block loaded");
    end
  end
`endif

  // Control registers (reset).
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q  <= StIdle;
      ep_q     <= EpIdle;
      ep_valid_q <= '0;
      r_q      <= '0;
      c_q      <= '0;
      cc_q     <= '0;
      d_q      <= '0;
      j_q      <= '0;
      q_rd_q   <= 1'b0;
      kv_rd_q  <= '0;
      dcnt_q   <= '0;
      drow_q   <= '0;
      dcol_q   <= '0;
      rmax_q   <= '0;
      rvalid_q <= '0;
      fresh_q  <= '0;
      rready_q <= '0;
      last_q   <= 1'b0;
      er_q     <= '0;
      ed_q     <= '0;
      rem_q    <= '0;
      quo_q    <= '0;
      div_q    <= '0;
      oempty_q <= 1'b0;
    end else begin
      state_q <= state_d;
      ep_q    <= ep_d;
      if (item_valid_i && item_ready_o && !item_i[2]) begin
        {r_q, c_q, cc_q, d_q, j_q} <= '0;
      end
      if (take_end) begin
        ep_valid_q <= rvalid_q;
        rvalid_q   <= '0;
        last_q     <= item_i[0];
        er_q       <= '0;
        if (item_i[1]) q_rd_q <= ~q_rd_q;
      end
      // S phase loops: r, cc, d.
      if (state_q == StS) begin
        d_q <= d_q + 1'b1;
        if (d_q == DW'(D - 1)) begin
          d_q <= '0;
          cc_q <= (cc_q == CW'(NC - 1)) ? '0 : cc_q + 1'b1;
          if (cc_q == CW'(NC - 1)) r_q <= r_q + 1'b1;
        end
      end
      // Drain: latch P scores at the end of a chunk, then one per cycle.
      if (latch) begin
        dcnt_q <= ($clog2(P+1))'(P);
        drow_q <= r_q;
        dcol_q <= BW'(int'(cc_q) * P);
      end else if (drain) begin
        dcnt_q <= dcnt_q - 1'b1;
        dcol_q <= dcol_q + 1'b1;
      end
      if (drain) begin
        rmax_q <= xmax;
        if (row_end) begin
          mrow_q[drow_q]   <= mnew;
          delta_q[drow_q]  <= (mdiff > bsa_pkg::MaxW'(2 ** bsa_pkg::DeltaW - 1)) ? '1 : bsa_pkg::DeltaW'(mdiff);
          fresh_q[drow_q]  <= !rvalid_q[drow_q];
          rvalid_q[drow_q] <= 1'b1;
          rready_q[drow_q] <= 1'b1;
        end
      end
      // PV phase loops: r, c, j.
      if (pv_go) begin
        j_q <= (j_q == JW'(NJ - 1)) ? '0 : j_q + 1'b1;
        if (j_q == JW'(NJ - 1)) begin
          c_q <= c_q + 1'b1;
          if (c_q == BW'(B - 1)) r_q <= r_q + 1'b1;
        end
        if (pv_last) begin
          rready_q <= '0;
          kv_rd_q <= (kv_rd_q == KSW'(KvSlots - 1)) ? '0 : kv_rd_q + 1'b1;
        end
      end
      // Epilogue.
      if (ep_q == EpRow) begin
        rem_q <= LW'(64);
        quo_q <= '0;
        div_q <= DivW'(QuoW);
        ed_q  <= '0;
        orow_q <= '0;
        oempty_q <= !ep_valid_q[er_q];
      end
      if (ep_q == EpDiv) begin
        div_q <= div_q - 1'b1;
        if (rem2 >= (LW + 1)'(lsum_q[er_q])) begin
          rem_q <= LW'(rem2 - (LW + 1)'(lsum_q[er_q]));
          quo_q <= {quo_q[QuoW-2:0], 1'b1};
        end else begin
          rem_q <= LW'(rem2);
          quo_q <= {quo_q[QuoW-2:0], 1'b0};
        end
      end
      if (ep_q == EpMul) begin
        ed_q <= ed_q + 1'b1;
        orow_q[ed_q*8 +: 8] <= obyte;
      end
      if ((ep_q == EpOut) && out_ready_i && (er_q != BW'(B - 1))) er_q <= er_q + 1'b1;
    end
  end

  // Datapath registers and buffers (no reset: every entry is written before it is read).
  always_ff @(posedge clk_i) begin
    if (wr_q_i) qbuf_q[{wr_qslot_i, wr_row_i}] <= wr_data_i;
    if (wr_k_i) kbuf_q[{wr_kvslot_i, wr_row_i}] <= wr_data_i;
    if (wr_v_i) vbuf_q[{wr_kvslot_i, wr_row_i}] <= wr_data_i;
    for (int i = 0; i < P; i++) begin
      if (state_q == StS) sacc_q[i] <= sacc_d[i];
      if (latch) begin
        dreg_q[i] <= sacc_d[i];
      end else if (drain) begin
        dreg_q[i] <= (i + 1 < P) ? dreg_q[(i + 1) % P] : '0;
      end
      if (pv_go) acc_q[{r_q, DW'(int'(j_q) * P + i)}] <= acc_d[i];
    end
    if (drain) sbuf_q[{drow_q, dcol_q}] <= xval;
    if (pv_go && (j_q == '0)) begin
      lsum_q[r_q] <= ((c_q != '0) ? lsum_q[r_q] : (fresh_q[r_q] ? '0 : lsum_q[r_q] >> delta_q[r_q]))
                     + LW'(p);
    end
  end
endmodule
