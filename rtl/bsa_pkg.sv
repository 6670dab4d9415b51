// Shared constants and the exp2 LUT of the block-sparse attention core.
// The fixed-point formats are documented in hw/config.py; hw/golden.py models them bit for bit.
package bsa_pkg;

  // Fraction bits of the base-2 logit x; also the number of LUT index bits.
  localparam int unsigned LogitFrac = 6;
  // Fraction bits of p = exp2(x - m); p is unsigned, at most 2^ProbFrac.
  localparam int unsigned ProbFrac = 8;
  // Width of the signed logit x.
  localparam int unsigned LogitW = 20;
  // Width of the signed integer row maximum m = ceil(max x / 2^LogitFrac).
  localparam int unsigned MaxW = LogitW - LogitFrac + 1;
  // Width of the unsigned scale multiplier M and of the scale shift SH.
  localparam int unsigned ScaleW = 16;
  localparam int unsigned ShiftW = 5;
  // Width of one beat of the key-block list stream (a count or an index).
  localparam int unsigned ListW = 16;
  // Performance counters: number and width.
  localparam int unsigned NumCnt = 13;
  localparam int unsigned CntW = 32;
  // Rescale shifts are clamped to this (6 bits).
  localparam int unsigned DeltaW = 6;

  // Counter indices into cnt_o.
  localparam int unsigned CntTotal = 0;
  localparam int unsigned CntBusy = 1;
  localparam int unsigned CntStall = 2;
  localparam int unsigned CntVisited = 3;
  localparam int unsigned CntSkipped = 4;
  localparam int unsigned CntMacs = 5;
  localparam int unsigned CntExps = 6;
  localparam int unsigned CntRescales = 7;
  localparam int unsigned CntDivides = 8;
  localparam int unsigned CntSramRd = 9;
  localparam int unsigned CntSramWr = 10;
  localparam int unsigned CntStreamIn = 11;
  localparam int unsigned CntStreamOut = 12;

  // Error flag bits of err_o.
  localparam int unsigned NumErr = 5;
  localparam int unsigned ErrIndex = 0;  // key-block index >= nk (block skipped)
  localparam int unsigned ErrCount = 1;  // row list longer than nk (row discarded)
  localparam int unsigned ErrEarly = 2;  // list ended (last) before the job's final row
  localparam int unsigned ErrLate = 3;   // final row reached without last (rest drained)
  localparam int unsigned ErrCmd = 4;    // bad command (nq = 0 or sizes over MaxBlocks)

  // Width of an index that can hold 0..n-1 (at least one bit).
  function automatic int unsigned idx_w(int unsigned n);
    idx_w = (n > 1) ? $clog2(n) : 1;
  endfunction

  // exp2_lut(f) = round(2^(f / 64) * 2^ProbFrac).
  function automatic logic [ProbFrac:0] exp2_lut(logic [LogitFrac-1:0] f);
    case (f)
      6'd0: exp2_lut = 9'd256;
      6'd1: exp2_lut = 9'd259;
      6'd2: exp2_lut = 9'd262;
      6'd3: exp2_lut = 9'd264;
      6'd4: exp2_lut = 9'd267;
      6'd5: exp2_lut = 9'd270;
      6'd6: exp2_lut = 9'd273;
      6'd7: exp2_lut = 9'd276;
      6'd8: exp2_lut = 9'd279;
      6'd9: exp2_lut = 9'd282;
      6'd10: exp2_lut = 9'd285;
      6'd11: exp2_lut = 9'd288;
      6'd12: exp2_lut = 9'd292;
      6'd13: exp2_lut = 9'd295;
      6'd14: exp2_lut = 9'd298;
      6'd15: exp2_lut = 9'd301;
      6'd16: exp2_lut = 9'd304;
      6'd17: exp2_lut = 9'd308;
      6'd18: exp2_lut = 9'd311;
      6'd19: exp2_lut = 9'd314;
      6'd20: exp2_lut = 9'd318;
      6'd21: exp2_lut = 9'd321;
      6'd22: exp2_lut = 9'd325;
      6'd23: exp2_lut = 9'd328;
      6'd24: exp2_lut = 9'd332;
      6'd25: exp2_lut = 9'd336;
      6'd26: exp2_lut = 9'd339;
      6'd27: exp2_lut = 9'd343;
      6'd28: exp2_lut = 9'd347;
      6'd29: exp2_lut = 9'd350;
      6'd30: exp2_lut = 9'd354;
      6'd31: exp2_lut = 9'd358;
      6'd32: exp2_lut = 9'd362;
      6'd33: exp2_lut = 9'd366;
      6'd34: exp2_lut = 9'd370;
      6'd35: exp2_lut = 9'd374;
      6'd36: exp2_lut = 9'd378;
      6'd37: exp2_lut = 9'd382;
      6'd38: exp2_lut = 9'd386;
      6'd39: exp2_lut = 9'd391;
      6'd40: exp2_lut = 9'd395;
      6'd41: exp2_lut = 9'd399;
      6'd42: exp2_lut = 9'd403;
      6'd43: exp2_lut = 9'd408;
      6'd44: exp2_lut = 9'd412;
      6'd45: exp2_lut = 9'd417;
      6'd46: exp2_lut = 9'd421;
      6'd47: exp2_lut = 9'd426;
      6'd48: exp2_lut = 9'd431;
      6'd49: exp2_lut = 9'd435;
      6'd50: exp2_lut = 9'd440;
      6'd51: exp2_lut = 9'd445;
      6'd52: exp2_lut = 9'd450;
      6'd53: exp2_lut = 9'd454;
      6'd54: exp2_lut = 9'd459;
      6'd55: exp2_lut = 9'd464;
      6'd56: exp2_lut = 9'd470;
      6'd57: exp2_lut = 9'd475;
      6'd58: exp2_lut = 9'd480;
      6'd59: exp2_lut = 9'd485;
      6'd60: exp2_lut = 9'd490;
      6'd61: exp2_lut = 9'd496;
      6'd62: exp2_lut = 9'd501;
      6'd63: exp2_lut = 9'd506;
      default: exp2_lut = 9'd0;
    endcase
  endfunction

endpackage
