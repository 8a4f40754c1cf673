/* nodemcu-pipeline: the Xtensa core bit definitions NodeMCU includes as <xtensa/corebits.h>, which
 * newlib-based toolchains ship and picolibc does not. Values are the architectural ones of the Xtensa
 * ISA (EXCCAUSE codes and PS fields), which are the same on every Xtensa core including the LX106. */
#ifndef NODEMCU_PIPELINE_XTENSA_COREBITS_H
#define NODEMCU_PIPELINE_XTENSA_COREBITS_H

/* Newlib toolchains reach the core configuration (XCHAL_DEBUGLEVEL ...) through their HAL headers;
 * NodeMCU's gdbstub relies on that after including only this file. */
#include <xtensa/config/core-isa.h>

#define EXCCAUSE_EXCCAUSE_SHIFT     0
#define EXCCAUSE_EXCCAUSE_MASK      0x3F
#define EXCCAUSE_ILLEGAL            0
#define EXCCAUSE_SYSCALL            1
#define EXCCAUSE_INSTR_ERROR        2
#define EXCCAUSE_IFETCHERROR        2
#define EXCCAUSE_LOAD_STORE_ERROR   3
#define EXCCAUSE_LOADSTOREERROR     3
#define EXCCAUSE_LEVEL1_INTERRUPT   4
#define EXCCAUSE_LEVEL1INTERRUPT    4
#define EXCCAUSE_ALLOCA             5
#define EXCCAUSE_DIVIDE_BY_ZERO     6
#define EXCCAUSE_SPECULATION        7
#define EXCCAUSE_PRIVILEGED         8
#define EXCCAUSE_UNALIGNED          9
#define EXCCAUSE_INSTR_DATA_ERROR   12
#define EXCCAUSE_LOAD_STORE_DATA_ERROR 13
#define EXCCAUSE_INSTR_ADDR_ERROR   14
#define EXCCAUSE_LOAD_STORE_ADDR_ERROR 15
#define EXCCAUSE_ITLB_MISS          16
#define EXCCAUSE_ITLB_MULTIHIT      17
#define EXCCAUSE_INSTR_RING         18
#define EXCCAUSE_INSTR_PROHIBITED   20
#define EXCCAUSE_DTLB_MISS          24
#define EXCCAUSE_DTLB_MULTIHIT      25
#define EXCCAUSE_LOAD_STORE_RING    26
#define EXCCAUSE_LOAD_PROHIBITED    28
#define EXCCAUSE_STORE_PROHIBITED   29
#define EXCCAUSE_CP_DISABLED(n)     (32 + (n))

#define PS_INTLEVEL_SHIFT   0
#define PS_INTLEVEL_BITS    4
#define PS_INTLEVEL_MASK    0x0000000F
#define PS_EXCM_SHIFT       4
#define PS_EXCM             0x00000010
#define PS_EXCM_MASK        0x00000010
#define PS_UM_SHIFT         5
#define PS_UM               0x00000020
#define PS_UM_MASK          0x00000020
#define PS_RING_SHIFT       6
#define PS_RING_MASK        0x000000C0
#define PS_OWB_SHIFT        8
#define PS_OWB_MASK         0x00000F00
#define PS_CALLINC_SHIFT    16
#define PS_CALLINC_MASK     0x00030000
#define PS_WOE_SHIFT        18
#define PS_WOE              0x00040000
#define PS_WOE_MASK         0x00040000

#define DEBUGCAUSE_ICOUNT_SHIFT     0
#define DEBUGCAUSE_IBREAK_SHIFT     1
#define DEBUGCAUSE_DBREAK_SHIFT     2
#define DEBUGCAUSE_BREAK_SHIFT      3
#define DEBUGCAUSE_BREAKN_SHIFT     4
#define DEBUGCAUSE_DEBUGINT_SHIFT   5

#endif
