// p = 2^(y / 2^LogitFrac) * 2^ProbFrac for y <= 0: a LUT on the fraction bits and a rounding right
// shift by the integer part (combinational).
module bsa_exp2 (
  // y = x - m * 2^bsa_pkg::LogitFrac, never positive.
  input  logic signed [bsa_pkg::LogitW+1:0] y_i,
  output logic        [bsa_pkg::ProbFrac:0] p_o
);
  localparam int unsigned PW = bsa_pkg::ProbFrac + 2;  // LUT value plus the rounding half

  logic signed [bsa_pkg::LogitW+1:0] yi;
  logic        [bsa_pkg::LogitW+1:0] n;
  logic        [PW-1:0] lut, half, rounded;

  always_comb begin
    yi      = y_i >>> bsa_pkg::LogitFrac;
    n       = -yi;
    lut     = PW'(bsa_pkg::exp2_lut(y_i[bsa_pkg::LogitFrac-1:0]));
    half    = (n == '0) ? '0 : PW'(PW'(1) << (n[3:0] - 4'd1));
    rounded = (lut + half) >> n[3:0];
    p_o     = (n >= (bsa_pkg::LogitW + 2)'(bsa_pkg::ProbFrac + 2)) ? '0 : rounded[bsa_pkg::ProbFrac:0];
  end
endmodule
