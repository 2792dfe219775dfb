// Behavioural model of the Lattice ECP5 DP16KD block RAM, written for this project:
// Yosys's ecp5/cells_sim.v declares the primitive's ports and parameters only, so the
// block RAMs of an ECP5 netlist (the activation table, the lane memories) read 0 in
// simulation. It covers the configurations synth_ecp5 writes and stops the simulation on
// any other: port widths 1, 2, 4, 9 and 18, no output register (REGMODE "NOREG"), the
// synchronous reset of the output latch (RESETMODE "SYNC", not gated by the clock
// enable), the three write modes, the chip-select decode, and the contents from
// INITVAL_00 .. INITVAL_3F.
//
// The array is 1,024 words of 18 bits (two 9-bit bytes). INITVAL_k holds words 16 k ..
// 16 k + 15, word i in its bits [20 i + 17 : 20 i], as Yosys's brams_map_16kd.v writes
// them. An 18-bit port addresses word AD[13:4] and writes byte b when AD[b] is set (the
// byte enables); a 9-bit port byte AD[3] of word AD[13:4]; ports of 1, 2 and 4 bits use
// the 16 bits of a word that are not the bytes' ninth bits (8 and 17), low byte first,
// AD[3:0] counting bits. Reading and writing one word on both ports at once is not
// modelled (the hardware leaves it undefined).
`default_nettype none
module DP16KD (
    input  wire DIA0, DIA1, DIA2, DIA3, DIA4, DIA5, DIA6, DIA7, DIA8, DIA9, DIA10, DIA11,
                DIA12, DIA13, DIA14, DIA15, DIA16, DIA17,
    input  wire ADA0, ADA1, ADA2, ADA3, ADA4, ADA5, ADA6, ADA7, ADA8, ADA9, ADA10, ADA11,
                ADA12, ADA13,
    input  wire CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
    output wire DOA0, DOA1, DOA2, DOA3, DOA4, DOA5, DOA6, DOA7, DOA8, DOA9, DOA10, DOA11,
                DOA12, DOA13, DOA14, DOA15, DOA16, DOA17,
    input  wire DIB0, DIB1, DIB2, DIB3, DIB4, DIB5, DIB6, DIB7, DIB8, DIB9, DIB10, DIB11,
                DIB12, DIB13, DIB14, DIB15, DIB16, DIB17,
    input  wire ADB0, ADB1, ADB2, ADB3, ADB4, ADB5, ADB6, ADB7, ADB8, ADB9, ADB10, ADB11,
                ADB12, ADB13,
    input  wire CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
    output wire DOB0, DOB1, DOB2, DOB3, DOB4, DOB5, DOB6, DOB7, DOB8, DOB9, DOB10, DOB11,
                DOB12, DOB13, DOB14, DOB15, DOB16, DOB17
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter WID = 0;
    parameter GSR = "ENABLED";
    parameter INIT_DATA = "STATIC";
    // every pin's multiplexer setting; the model takes each pin as it is
    parameter DIA17MUX = "DIA17";
    parameter DIA16MUX = "DIA16";
    parameter DIA15MUX = "DIA15";
    parameter DIA14MUX = "DIA14";
    parameter DIA13MUX = "DIA13";
    parameter DIA12MUX = "DIA12";
    parameter DIA11MUX = "DIA11";
    parameter DIA10MUX = "DIA10";
    parameter DIA9MUX = "DIA9";
    parameter DIA8MUX = "DIA8";
    parameter DIA7MUX = "DIA7";
    parameter DIA6MUX = "DIA6";
    parameter DIA5MUX = "DIA5";
    parameter DIA4MUX = "DIA4";
    parameter DIA3MUX = "DIA3";
    parameter DIA2MUX = "DIA2";
    parameter DIA1MUX = "DIA1";
    parameter DIA0MUX = "DIA0";
    parameter ADA13MUX = "ADA13";
    parameter ADA12MUX = "ADA12";
    parameter ADA11MUX = "ADA11";
    parameter ADA10MUX = "ADA10";
    parameter ADA9MUX = "ADA9";
    parameter ADA8MUX = "ADA8";
    parameter ADA7MUX = "ADA7";
    parameter ADA6MUX = "ADA6";
    parameter ADA5MUX = "ADA5";
    parameter ADA4MUX = "ADA4";
    parameter ADA3MUX = "ADA3";
    parameter ADA2MUX = "ADA2";
    parameter ADA1MUX = "ADA1";
    parameter ADA0MUX = "ADA0";
    parameter CEAMUX = "CEA";
    parameter OCEAMUX = "OCEA";
    parameter CLKAMUX = "CLKA";
    parameter WEAMUX = "WEA";
    parameter RSTAMUX = "RSTA";
    parameter CSA2MUX = "CSA2";
    parameter CSA1MUX = "CSA1";
    parameter CSA0MUX = "CSA0";
    parameter DOA17MUX = "DOA17";
    parameter DOA16MUX = "DOA16";
    parameter DOA15MUX = "DOA15";
    parameter DOA14MUX = "DOA14";
    parameter DOA13MUX = "DOA13";
    parameter DOA12MUX = "DOA12";
    parameter DOA11MUX = "DOA11";
    parameter DOA10MUX = "DOA10";
    parameter DOA9MUX = "DOA9";
    parameter DOA8MUX = "DOA8";
    parameter DOA7MUX = "DOA7";
    parameter DOA6MUX = "DOA6";
    parameter DOA5MUX = "DOA5";
    parameter DOA4MUX = "DOA4";
    parameter DOA3MUX = "DOA3";
    parameter DOA2MUX = "DOA2";
    parameter DOA1MUX = "DOA1";
    parameter DOA0MUX = "DOA0";
    parameter DIB17MUX = "DIB17";
    parameter DIB16MUX = "DIB16";
    parameter DIB15MUX = "DIB15";
    parameter DIB14MUX = "DIB14";
    parameter DIB13MUX = "DIB13";
    parameter DIB12MUX = "DIB12";
    parameter DIB11MUX = "DIB11";
    parameter DIB10MUX = "DIB10";
    parameter DIB9MUX = "DIB9";
    parameter DIB8MUX = "DIB8";
    parameter DIB7MUX = "DIB7";
    parameter DIB6MUX = "DIB6";
    parameter DIB5MUX = "DIB5";
    parameter DIB4MUX = "DIB4";
    parameter DIB3MUX = "DIB3";
    parameter DIB2MUX = "DIB2";
    parameter DIB1MUX = "DIB1";
    parameter DIB0MUX = "DIB0";
    parameter ADB13MUX = "ADB13";
    parameter ADB12MUX = "ADB12";
    parameter ADB11MUX = "ADB11";
    parameter ADB10MUX = "ADB10";
    parameter ADB9MUX = "ADB9";
    parameter ADB8MUX = "ADB8";
    parameter ADB7MUX = "ADB7";
    parameter ADB6MUX = "ADB6";
    parameter ADB5MUX = "ADB5";
    parameter ADB4MUX = "ADB4";
    parameter ADB3MUX = "ADB3";
    parameter ADB2MUX = "ADB2";
    parameter ADB1MUX = "ADB1";
    parameter ADB0MUX = "ADB0";
    parameter CEBMUX = "CEB";
    parameter OCEBMUX = "OCEB";
    parameter CLKBMUX = "CLKB";
    parameter WEBMUX = "WEB";
    parameter RSTBMUX = "RSTB";
    parameter CSB2MUX = "CSB2";
    parameter CSB1MUX = "CSB1";
    parameter CSB0MUX = "CSB0";
    parameter DOB17MUX = "DOB17";
    parameter DOB16MUX = "DOB16";
    parameter DOB15MUX = "DOB15";
    parameter DOB14MUX = "DOB14";
    parameter DOB13MUX = "DOB13";
    parameter DOB12MUX = "DOB12";
    parameter DOB11MUX = "DOB11";
    parameter DOB10MUX = "DOB10";
    parameter DOB9MUX = "DOB9";
    parameter DOB8MUX = "DOB8";
    parameter DOB7MUX = "DOB7";
    parameter DOB6MUX = "DOB6";
    parameter DOB5MUX = "DOB5";
    parameter DOB4MUX = "DOB4";
    parameter DOB3MUX = "DOB3";
    parameter DOB2MUX = "DOB2";
    parameter DOB1MUX = "DOB1";
    parameter DOB0MUX = "DOB0";
    parameter INITVAL_00 = 320'h0;
    parameter INITVAL_01 = 320'h0;
    parameter INITVAL_02 = 320'h0;
    parameter INITVAL_03 = 320'h0;
    parameter INITVAL_04 = 320'h0;
    parameter INITVAL_05 = 320'h0;
    parameter INITVAL_06 = 320'h0;
    parameter INITVAL_07 = 320'h0;
    parameter INITVAL_08 = 320'h0;
    parameter INITVAL_09 = 320'h0;
    parameter INITVAL_0A = 320'h0;
    parameter INITVAL_0B = 320'h0;
    parameter INITVAL_0C = 320'h0;
    parameter INITVAL_0D = 320'h0;
    parameter INITVAL_0E = 320'h0;
    parameter INITVAL_0F = 320'h0;
    parameter INITVAL_10 = 320'h0;
    parameter INITVAL_11 = 320'h0;
    parameter INITVAL_12 = 320'h0;
    parameter INITVAL_13 = 320'h0;
    parameter INITVAL_14 = 320'h0;
    parameter INITVAL_15 = 320'h0;
    parameter INITVAL_16 = 320'h0;
    parameter INITVAL_17 = 320'h0;
    parameter INITVAL_18 = 320'h0;
    parameter INITVAL_19 = 320'h0;
    parameter INITVAL_1A = 320'h0;
    parameter INITVAL_1B = 320'h0;
    parameter INITVAL_1C = 320'h0;
    parameter INITVAL_1D = 320'h0;
    parameter INITVAL_1E = 320'h0;
    parameter INITVAL_1F = 320'h0;
    parameter INITVAL_20 = 320'h0;
    parameter INITVAL_21 = 320'h0;
    parameter INITVAL_22 = 320'h0;
    parameter INITVAL_23 = 320'h0;
    parameter INITVAL_24 = 320'h0;
    parameter INITVAL_25 = 320'h0;
    parameter INITVAL_26 = 320'h0;
    parameter INITVAL_27 = 320'h0;
    parameter INITVAL_28 = 320'h0;
    parameter INITVAL_29 = 320'h0;
    parameter INITVAL_2A = 320'h0;
    parameter INITVAL_2B = 320'h0;
    parameter INITVAL_2C = 320'h0;
    parameter INITVAL_2D = 320'h0;
    parameter INITVAL_2E = 320'h0;
    parameter INITVAL_2F = 320'h0;
    parameter INITVAL_30 = 320'h0;
    parameter INITVAL_31 = 320'h0;
    parameter INITVAL_32 = 320'h0;
    parameter INITVAL_33 = 320'h0;
    parameter INITVAL_34 = 320'h0;
    parameter INITVAL_35 = 320'h0;
    parameter INITVAL_36 = 320'h0;
    parameter INITVAL_37 = 320'h0;
    parameter INITVAL_38 = 320'h0;
    parameter INITVAL_39 = 320'h0;
    parameter INITVAL_3A = 320'h0;
    parameter INITVAL_3B = 320'h0;
    parameter INITVAL_3C = 320'h0;
    parameter INITVAL_3D = 320'h0;
    parameter INITVAL_3E = 320'h0;
    parameter INITVAL_3F = 320'h0;

    function width_ok(input integer w);
        width_ok = w == 1 || w == 2 || w == 4 || w == 9 || w == 18;
    endfunction

    // CSDECODE "0bXYZ": the port is selected when {CS2, CS1, CS0} is XYZ
    function [3:0] cs_decode(input [39:0] s);  // {valid, the three bits}
        cs_decode = {s[39:24] == "0b" && (s[23:16] == "0" || s[23:16] == "1")
                      && (s[15:8] == "0" || s[15:8] == "1") && (s[7:0] == "0" || s[7:0] == "1"),
                      s[23:16] == "1", s[15:8] == "1", s[7:0] == "1"};
    endfunction

    function mode_ok(input [8*15-1:0] m);
        mode_ok = m == "NORMAL" || m == "WRITETHROUGH" || m == "READBEFOREWRITE";
    endfunction

    localparam [3:0] CS_A = cs_decode(CSDECODE_A);
    localparam [3:0] CS_B = cs_decode(CSDECODE_B);

    initial begin
        if (!width_ok(DATA_WIDTH_A) || !width_ok(DATA_WIDTH_B) || REGMODE_A != "NOREG"
            || REGMODE_B != "NOREG" || RESETMODE != "SYNC" || !CS_A[3] || !CS_B[3]
            || !mode_ok(WRITEMODE_A) || !mode_ok(WRITEMODE_B) ||
            DIA17MUX != "DIA17" ||
            DIA16MUX != "DIA16" ||
            DIA15MUX != "DIA15" ||
            DIA14MUX != "DIA14" ||
            DIA13MUX != "DIA13" ||
            DIA12MUX != "DIA12" ||
            DIA11MUX != "DIA11" ||
            DIA10MUX != "DIA10" ||
            DIA9MUX != "DIA9" ||
            DIA8MUX != "DIA8" ||
            DIA7MUX != "DIA7" ||
            DIA6MUX != "DIA6" ||
            DIA5MUX != "DIA5" ||
            DIA4MUX != "DIA4" ||
            DIA3MUX != "DIA3" ||
            DIA2MUX != "DIA2" ||
            DIA1MUX != "DIA1" ||
            DIA0MUX != "DIA0" ||
            ADA13MUX != "ADA13" ||
            ADA12MUX != "ADA12" ||
            ADA11MUX != "ADA11" ||
            ADA10MUX != "ADA10" ||
            ADA9MUX != "ADA9" ||
            ADA8MUX != "ADA8" ||
            ADA7MUX != "ADA7" ||
            ADA6MUX != "ADA6" ||
            ADA5MUX != "ADA5" ||
            ADA4MUX != "ADA4" ||
            ADA3MUX != "ADA3" ||
            ADA2MUX != "ADA2" ||
            ADA1MUX != "ADA1" ||
            ADA0MUX != "ADA0" ||
            CEAMUX != "CEA" ||
            OCEAMUX != "OCEA" ||
            CLKAMUX != "CLKA" ||
            WEAMUX != "WEA" ||
            RSTAMUX != "RSTA" ||
            CSA2MUX != "CSA2" ||
            CSA1MUX != "CSA1" ||
            CSA0MUX != "CSA0" ||
            DOA17MUX != "DOA17" ||
            DOA16MUX != "DOA16" ||
            DOA15MUX != "DOA15" ||
            DOA14MUX != "DOA14" ||
            DOA13MUX != "DOA13" ||
            DOA12MUX != "DOA12" ||
            DOA11MUX != "DOA11" ||
            DOA10MUX != "DOA10" ||
            DOA9MUX != "DOA9" ||
            DOA8MUX != "DOA8" ||
            DOA7MUX != "DOA7" ||
            DOA6MUX != "DOA6" ||
            DOA5MUX != "DOA5" ||
            DOA4MUX != "DOA4" ||
            DOA3MUX != "DOA3" ||
            DOA2MUX != "DOA2" ||
            DOA1MUX != "DOA1" ||
            DOA0MUX != "DOA0" ||
            DIB17MUX != "DIB17" ||
            DIB16MUX != "DIB16" ||
            DIB15MUX != "DIB15" ||
            DIB14MUX != "DIB14" ||
            DIB13MUX != "DIB13" ||
            DIB12MUX != "DIB12" ||
            DIB11MUX != "DIB11" ||
            DIB10MUX != "DIB10" ||
            DIB9MUX != "DIB9" ||
            DIB8MUX != "DIB8" ||
            DIB7MUX != "DIB7" ||
            DIB6MUX != "DIB6" ||
            DIB5MUX != "DIB5" ||
            DIB4MUX != "DIB4" ||
            DIB3MUX != "DIB3" ||
            DIB2MUX != "DIB2" ||
            DIB1MUX != "DIB1" ||
            DIB0MUX != "DIB0" ||
            ADB13MUX != "ADB13" ||
            ADB12MUX != "ADB12" ||
            ADB11MUX != "ADB11" ||
            ADB10MUX != "ADB10" ||
            ADB9MUX != "ADB9" ||
            ADB8MUX != "ADB8" ||
            ADB7MUX != "ADB7" ||
            ADB6MUX != "ADB6" ||
            ADB5MUX != "ADB5" ||
            ADB4MUX != "ADB4" ||
            ADB3MUX != "ADB3" ||
            ADB2MUX != "ADB2" ||
            ADB1MUX != "ADB1" ||
            ADB0MUX != "ADB0" ||
            CEBMUX != "CEB" ||
            OCEBMUX != "OCEB" ||
            CLKBMUX != "CLKB" ||
            WEBMUX != "WEB" ||
            RSTBMUX != "RSTB" ||
            CSB2MUX != "CSB2" ||
            CSB1MUX != "CSB1" ||
            CSB0MUX != "CSB0" ||
            DOB17MUX != "DOB17" ||
            DOB16MUX != "DOB16" ||
            DOB15MUX != "DOB15" ||
            DOB14MUX != "DOB14" ||
            DOB13MUX != "DOB13" ||
            DOB12MUX != "DOB12" ||
            DOB11MUX != "DOB11" ||
            DOB10MUX != "DOB10" ||
            DOB9MUX != "DOB9" ||
            DOB8MUX != "DOB8" ||
            DOB7MUX != "DOB7" ||
            DOB6MUX != "DOB6" ||
            DOB5MUX != "DOB5" ||
            DOB4MUX != "DOB4" ||
            DOB3MUX != "DOB3" ||
            DOB2MUX != "DOB2" ||
            DOB1MUX != "DOB1" ||
            DOB0MUX != "DOB0") begin
            $display("DP16KD %m: a configuration this model does not cover");
            $finish;
        end
    end

    reg [17:0] mem [0:1023];

    function [319:0] initval(input integer k);
        case (k)
            0: initval = INITVAL_00;
            1: initval = INITVAL_01;
            2: initval = INITVAL_02;
            3: initval = INITVAL_03;
            4: initval = INITVAL_04;
            5: initval = INITVAL_05;
            6: initval = INITVAL_06;
            7: initval = INITVAL_07;
            8: initval = INITVAL_08;
            9: initval = INITVAL_09;
            10: initval = INITVAL_0A;
            11: initval = INITVAL_0B;
            12: initval = INITVAL_0C;
            13: initval = INITVAL_0D;
            14: initval = INITVAL_0E;
            15: initval = INITVAL_0F;
            16: initval = INITVAL_10;
            17: initval = INITVAL_11;
            18: initval = INITVAL_12;
            19: initval = INITVAL_13;
            20: initval = INITVAL_14;
            21: initval = INITVAL_15;
            22: initval = INITVAL_16;
            23: initval = INITVAL_17;
            24: initval = INITVAL_18;
            25: initval = INITVAL_19;
            26: initval = INITVAL_1A;
            27: initval = INITVAL_1B;
            28: initval = INITVAL_1C;
            29: initval = INITVAL_1D;
            30: initval = INITVAL_1E;
            31: initval = INITVAL_1F;
            32: initval = INITVAL_20;
            33: initval = INITVAL_21;
            34: initval = INITVAL_22;
            35: initval = INITVAL_23;
            36: initval = INITVAL_24;
            37: initval = INITVAL_25;
            38: initval = INITVAL_26;
            39: initval = INITVAL_27;
            40: initval = INITVAL_28;
            41: initval = INITVAL_29;
            42: initval = INITVAL_2A;
            43: initval = INITVAL_2B;
            44: initval = INITVAL_2C;
            45: initval = INITVAL_2D;
            46: initval = INITVAL_2E;
            47: initval = INITVAL_2F;
            48: initval = INITVAL_30;
            49: initval = INITVAL_31;
            50: initval = INITVAL_32;
            51: initval = INITVAL_33;
            52: initval = INITVAL_34;
            53: initval = INITVAL_35;
            54: initval = INITVAL_36;
            55: initval = INITVAL_37;
            56: initval = INITVAL_38;
            57: initval = INITVAL_39;
            58: initval = INITVAL_3A;
            59: initval = INITVAL_3B;
            60: initval = INITVAL_3C;
            61: initval = INITVAL_3D;
            62: initval = INITVAL_3E;
            63: initval = INITVAL_3F;
            default: initval = 320'h0;
        endcase
    endfunction

    integer w;
    reg [319:0] row;
    initial begin
        for (w = 0; w < 1024; w = w + 1) begin
            row = initval(w / 16);
            mem[w] = row[(w % 16) * 20 +: 18];
        end
    end

    // what a port of `width` bits at address `ad` reads from `word`
    function [17:0] rd(input [17:0] word, input [13:0] ad, input integer width);
        reg [15:0] d;  // the bits that are not the bytes' ninth
        begin
            d = {word[16:9], word[7:0]};
            case (width)
                18: rd = word;
                9: rd = ad[3] ? {9'd0, word[17:9]} : {9'd0, word[8:0]};
                4: rd = {14'd0, d[ad[3:2] * 4 +: 4]};
                2: rd = {16'd0, d[ad[3:1] * 2 +: 2]};
                default: rd = {17'd0, d[ad[3:0]]};
            endcase
        end
    endfunction

    // `word` after a port of `width` bits writes `di` at address `ad`
    function [17:0] wr(input [17:0] word, input [17:0] di, input [13:0] ad,
                       input integer width);
        reg [15:0] d;
        begin
            d = {word[16:9], word[7:0]};
            wr = word;
            case (width)
                18: begin
                    if (ad[0]) wr[8:0] = di[8:0];  // AD[1:0] are the byte enables
                    if (ad[1]) wr[17:9] = di[17:9];
                end
                9: if (ad[3]) wr[17:9] = di[8:0]; else wr[8:0] = di[8:0];
                4: d[ad[3:2] * 4 +: 4] = di[3:0];
                2: d[ad[3:1] * 2 +: 2] = di[1:0];
                default: d[ad[3:0]] = di[0];
            endcase
            if (width < 9) wr = {word[17], d[15:8], word[8], d[7:0]};
        end
    endfunction

    // The two ports, side by side (index 0 is A, 1 is B): one description serves both.
    wire [13:0] ad [0:1];
    wire [17:0] di [0:1];
    wire [2:0] cs [0:1];
    wire [1:0] clk = {CLKB, CLKA}, ce = {CEB, CEA}, we = {WEB, WEA}, rst = {RSTB, RSTA};
    reg  [17:0] dout [0:1];
    assign ad[0] = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    assign ad[1] = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    assign di[0] = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    assign di[1] = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
    assign cs[0] = {CSA2, CSA1, CSA0};
    assign cs[1] = {CSB2, CSB1, CSB0};
    initial begin
        dout[0] = 18'd0;
        dout[1] = 18'd0;
    end

    genvar q;
    generate
        for (q = 0; q < 2; q = q + 1) begin : port
            localparam integer WIDTH = q ? DATA_WIDTH_B : DATA_WIDTH_A;
            localparam [8*15-1:0] MODE = q ? WRITEMODE_B : WRITEMODE_A;
            localparam [2:0] CS = q ? CS_B[2:0] : CS_A[2:0];
            wire sel = cs[q] == CS;
            wire [17:0] old = mem[ad[q][13:4]];
            wire [17:0] new_word = wr(old, di[q], ad[q], WIDTH);

            always @(posedge clk[q]) begin
                if (rst[q]) begin  // RESETMODE "SYNC": the output latch, whatever CE
                    if (ce[q] && we[q] && sel) begin
                        $display("DP16KD %m: a write during the port's output reset is not modelled");
                        $finish;
                    end
                    dout[q] <= 18'd0;
                end else if (ce[q] && sel) begin
                    if (we[q]) begin
                        mem[ad[q][13:4]] <= new_word;
                        if (MODE == "WRITETHROUGH")
                            dout[q] <= rd(new_word, ad[q], WIDTH);
                        else if (MODE == "READBEFOREWRITE")
                            dout[q] <= rd(old, ad[q], WIDTH);
                    end else begin
                        dout[q] <= rd(old, ad[q], WIDTH);
                    end
                end
            end
        end
    endgenerate
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = dout[0];
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dout[1];

endmodule
`default_nettype wire
