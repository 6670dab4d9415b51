"""Block-sparse attention accelerator: RTL (rtl/bsa_*.sv) and its models.

hw.config   AccelConfig presets and the fixed-point formats
hw.golden   bit-exact numpy model of the RTL, fp32 reference, error metrics
hw.cycles   analytic cycle model (validated against the RTL counters)
hw.energy   per-event energies x counters; hw.area: yosys cell counts -> assumed area
hw.accel    accel_hardware(config): the accelerator as a roofline target
hw.simulate one RTL simulation (cocotb + Verilator) checked against the models; CLI: python -m hw
"""
