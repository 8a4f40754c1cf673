/* nodemcu-pipeline: Xtensa special register numbers (the operands of rsr/wsr/xsr) that NodeMCU's
 * gdbstub includes as <xtensa/config/specreg.h>; picolibc ships no such file. The numbers are fixed
 * by the Xtensa ISA. The bare series names (EPC, EPS, EXCSAVE, ...) are the bases that NodeMCU adds
 * an interrupt level to, e.g. EPC + XCHAL_DEBUGLEVEL. */
#ifndef NODEMCU_PIPELINE_XTENSA_SPECREG_H
#define NODEMCU_PIPELINE_XTENSA_SPECREG_H

#define LBEG        0
#define LEND        1
#define LCOUNT      2
#define SAR         3
#define BR          4
#define LITBASE     5
#define SCOMPARE1   12
#define ACCLO       16
#define ACCHI       17
#define WINDOWBASE  72
#define WINDOWSTART 73
#define IBREAKENABLE 96
#define MEMCTL      97
#define ATOMCTL     99
#define DDR         104
#define IBREAKA_0   128
#define IBREAKA_1   129
#define DBREAKA_0   144
#define DBREAKA_1   145
#define DBREAKC_0   160
#define DBREAKC_1   161
#define EPC_1       177
#define EPC_2       178
#define EPC_3       179
#define DEPC        192
#define EPS_2       194
#define EPS_3       195
#define EXCSAVE_1   209
#define EXCSAVE_2   210
#define EXCSAVE_3   211
#define CPENABLE    224
#define INTERRUPT   226
#define INTREAD     226
#define INTSET      226
#define INTCLEAR    227
#define INTENABLE   228
#define PS          230
#define VECBASE     231
#define EXCCAUSE    232
#define DEBUGCAUSE  233
#define CCOUNT      234
#define PRID        235
#define ICOUNT      236
#define ICOUNTLEVEL 237
#define EXCVADDR    238
#define CCOMPARE_0  240

/* Bases of the numbered series. */
#define IBREAKA     128
#define DBREAKA     144
#define DBREAKC     160
#define EPC         176
#define EPS         192
#define EXCSAVE     208
#define CCOMPARE    240

#endif
