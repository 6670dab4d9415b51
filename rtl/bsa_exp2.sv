// p = 2^(y / 2^LogitFrac) * 2^ProbFrac for y <= 0: a LUT on the fraction bits and a right shift by
// the integer part (combinational).
module bsa_exp2 import bsa_pkg::*; (
  // y = x - m * 2^LogitFrac, never positive.
  input  logic signed [LogitW+1:0] y_i,
  output logic        [ProbFrac:0] p_o
);
  logic signed [LogitW+1:0] yi;
  logic        [LogitW+1:0] n;
  logic        [ProbFrac:0] lut;

  always_comb begin
    yi  = y_i >>> LogitFrac;
    n   = -yi;
    lut = exp2_lut(y_i[LogitFrac-1:0]);
    p_o = (n >= (LogitW + 2)'(ProbFrac + 2)) ? '0 : (lut >> n[3:0]);
  end
endmodule
