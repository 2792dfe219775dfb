// Behavioural model of the Lattice ECP5 MULT18X18D, written for this project: Yosys ships
// the primitive only as a black box (ecp5/cells_bb.v), so neither the TRTRL_ECP5_DSP
// variant of the RTL (rtl/folded.py, dsp_mul) nor an ECP5 netlist simulates without one.
// It covers the configurations those use and stops the simulation on any other: the A/B
// input registers and the output register each absent ("NONE") or clocked by CLK0 with
// clock enable CE0 and a synchronous reset RST0 (RESETMODE "SYNC"); no pipeline or C
// register; SOURCEA/SOURCEB low (no shift chain); each operand signed when its SIGNEDx
// pin is high. P is A x B (36 bits) after the registers that are present, so with input
// and output registers P follows A and B by two rising edges of CLK0, as Lattice's
// sysDSP usage guide (TN1267) describes the registered multiplier.
`default_nettype none
module MULT18X18D (
    input  wire A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17,
    input  wire B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15, B16, B17,
    input  wire C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17,
    input  wire SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  wire CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3,
    output wire P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15, P16, P17,
    output wire P18, P19, P20, P21, P22, P23, P24, P25, P26, P27, P28, P29, P30, P31, P32, P33,
    output wire P34, P35
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    localparam REG_A = REG_INPUTA_CLK == "CLK0";
    localparam REG_B = REG_INPUTB_CLK == "CLK0";
    localparam REG_P = REG_OUTPUT_CLK == "CLK0";

    initial begin
        if (!(REG_A || REG_INPUTA_CLK == "NONE") || !(REG_B || REG_INPUTB_CLK == "NONE")
            || !(REG_P || REG_OUTPUT_CLK == "NONE") || REG_PIPELINE_CLK != "NONE"
            || REG_INPUTC_CLK != "NONE" || REG_INPUTA_CE != "CE0" || REG_INPUTB_CE != "CE0"
            || REG_OUTPUT_CE != "CE0" || REG_INPUTA_RST != "RST0" || REG_INPUTB_RST != "RST0"
            || REG_OUTPUT_RST != "RST0" || RESETMODE != "SYNC" || MULT_BYPASS != "DISABLED") begin
            $display("MULT18X18D %m: a configuration this model does not cover");
            $finish;
        end
    end

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg  [17:0] a_q = 18'd0, b_q = 18'd0;
    reg  [35:0] p_q = 36'd0;
    wire [17:0] a_in = REG_A ? a_q : a;
    wire [17:0] b_in = REG_B ? b_q : b;
    // The netlists tie SIGNEDA/SIGNEDB to constants, so when the primitive samples them
    // does not matter here.
    wire [35:0] a_x = {{18{SIGNEDA & a_in[17]}}, a_in};
    wire [35:0] b_x = {{18{SIGNEDB & b_in[17]}}, b_in};
    wire [35:0] product = a_x * b_x;

    always @(posedge CLK0) begin
        if (RST0) begin
            a_q <= 18'd0; b_q <= 18'd0; p_q <= 36'd0;
        end else if (CE0) begin
            a_q <= a; b_q <= b; p_q <= product;
        end
    end

    wire [35:0] p = REG_P ? p_q : product;
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20,
            P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2,
            P1, P0} = p;
endmodule
`default_nettype wire
