#ifndef USER_CONFIG_H
#define USER_CONFIG_H

/* Like nodemcu-firmware: the build type is chosen here (the nodemcu-build image greps for an
 * uncommented define) or with EXTRA_CCFLAGS=-DLUA_NUMBER_INTEGRAL (the pipeline's --variant integer). */
// #define LUA_NUMBER_INTEGRAL

#define BIT_RATE_DEFAULT 115200
#define CPU_FREQ_HZ 80000000u
/* The ROM runs the UART from the 26 MHz crystal as if it were 40 MHz; once the CPU runs at 80 MHz
 * the divider must use the real APB clock (52 MHz with a 26 MHz crystal). */
#define UART_CLK_FREQ (26000000u * 2u)

#endif
