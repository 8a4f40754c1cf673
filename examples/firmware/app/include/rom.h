#ifndef ROM_H
#define ROM_H

/* Functions in the ESP8266 mask ROM; their addresses are in ld/firmware.ld (from the SDK's
 * eagle.rom.addr.v6.ld). */
int ets_printf(const char *fmt, ...);
void ets_delay_us(unsigned int us);
void uart_div_modify(unsigned char uart_no, unsigned int divider);
void Cache_Read_Enable(unsigned char odd_even, unsigned char mb_count, unsigned char no_idea);

#define ICACHE_FLASH_ATTR __attribute__((section(".irom0.text"), noinline))

#endif
