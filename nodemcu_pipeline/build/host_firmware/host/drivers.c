/*
 * Peripherals the board does not model: the hardware SPI master, PWM and sigma-delta drivers
 * (register-level drivers in the tree that need the chip's SPI, FRC1-NMI and sigma-delta blocks).
 * These stand-ins accept the calls: SPI reads return what an idle bus gives (all ones), PWM and
 * sigma-delta remember their settings and drive the pin high while the duty is non-zero. The
 * GPIO-based drivers (I2C, 1-Wire, DHT) are the tree's own and run against the GPIO model.
 */
#include "host.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "eagle_soc.h"
#include "ets_sys.h"
#include "gpio.h"
#include "osapi.h"
#include "pin_map.h"

/* ROM: the UART divider (the tree's uart_config calls it) */
void uart_div_modify(uint8 uart_no, uint32 div) {
  WRITE_PERI_REG(0x60000014 + uart_no * 0xF00, div);
}

/* ---- SPI master: an idle bus ---------------------------------------------------------------- */
static uint8_t spi_buf[2][64];
void spi_lcd_mode_init(uint8 spi_no) { (void)spi_no; }
void spi_lcd_9bit_write(uint8 spi_no, uint8 high_bit, uint8 low_8bit) { (void)spi_no; (void)high_bit; (void)low_8bit; }
uint32_t spi_set_clkdiv(uint8 spi_no, uint32_t clock_div) { (void)spi_no; return clock_div; }
void spi_master_init(uint8 spi_no, unsigned cpol, unsigned cpha, uint32_t clock_div) {
  (void)cpol; (void)cpha; (void)clock_div;
  if (spi_no < 2)
    memset(spi_buf[spi_no], 0xFF, sizeof spi_buf[0]);
}
void spi_mast_byte_order(uint8 spi_no, uint8 order) { (void)spi_no; (void)order; }
void spi_mast_blkset(uint8 spi_no, size_t bitlen, const uint8 *data) { (void)spi_no; (void)bitlen; (void)data; }
void spi_mast_blkget(uint8 spi_no, size_t bitlen, uint8 *data) {
  (void)spi_no;
  memset(data, 0xFF, (bitlen + 7) / 8);
}
void spi_mast_set_mosi(uint8 spi_no, uint16 offset, uint8 bitlen, uint32 data) {
  (void)spi_no; (void)offset; (void)bitlen; (void)data;
}
uint32 spi_mast_get_miso(uint8 spi_no, uint16 offset, uint8 bitlen) {
  (void)spi_no; (void)offset;
  return bitlen >= 32 ? 0xFFFFFFFFu : ((1u << bitlen) - 1);
}
void spi_mast_transaction(uint8 spi_no, uint8 cmd_bitlen, uint16 cmd_data, uint8 addr_bitlen,
                          uint32 addr_data, uint16 mosi_bitlen, uint8 dummy_bitlen, sint16 miso_bitlen) {
  (void)spi_no; (void)cmd_data; (void)addr_data; (void)dummy_bitlen;
  /* time on the bus at the default 1 MHz-ish clock: one microsecond per bit */
  uint32_t bits = cmd_bitlen + addr_bitlen + mosi_bitlen + (miso_bitlen > 0 ? miso_bitlen : 0);
  host_spend_ns((uint64_t)bits * 1000);
}
void spi_byte_write_espslave(uint8 spi_no, uint8 data) { (void)spi_no; (void)data; }
void spi_byte_read_espslave(uint8 spi_no, uint8 *data) { (void)spi_no; *data = 0xFF; }
void spi_slave_init(uint8 spi_no) { (void)spi_no; }
void spi_slave_isr_handler(void *para) { (void)para; }
void hspi_master_readwrite_repeat(void) {}

/* ---- PWM ------------------------------------------------------------------------------------ */
#define NPWM 13
static struct {
  bool on;
  uint16 freq, duty;
} pwm[NPWM];
static bool pwm_running;

static void pwm_drive(uint8 ch) {
  if (ch >= NPWM || !pwm[ch].on)
    return;
  unsigned g = pin_num[ch];
  uint32_t bit = 1u << g;
  if (g < 16)
    gpio_output_set(pwm_running && pwm[ch].duty ? bit : 0, pwm_running && pwm[ch].duty ? 0 : bit, bit, 0);
}
void pwm_init(uint16 freq, uint16 *duty) {
  (void)duty;
  for (int i = 0; i < NPWM; i++)
    pwm[i] = (typeof(pwm[0])){false, freq, 0};
}
bool pwm_start(void) {
  pwm_running = true;
  for (uint8 i = 0; i < NPWM; i++)
    pwm_drive(i);
  return true;
}
void pwm_set_duty(uint16 duty, uint8 ch) {
  if (ch < NPWM)
    pwm[ch].duty = duty;
}
uint16 pwm_get_duty(uint8 ch) { return ch < NPWM ? pwm[ch].duty : 0; }
void pwm_set_freq(uint16 freq, uint8 ch) {
  if (ch < NPWM)
    pwm[ch].freq = freq;
}
uint16 pwm_get_freq(uint8 ch) { return ch < NPWM ? pwm[ch].freq : 0; }
bool pwm_add(uint8 ch) {
  if (ch >= NPWM)
    return false;
  pwm[ch].on = true;
  return true;
}
bool pwm_delete(uint8 ch) {
  if (ch >= NPWM)
    return false;
  pwm[ch].on = false;
  return true;
}
bool pwm_exist(uint8 ch) { return ch < NPWM && pwm[ch].on; }

/* ---- sigma-delta ---------------------------------------------------------------------------- */
void sigma_delta_setup(void) {}
void sigma_delta_stop(void) {}
void sigma_delta_set_prescale_target(sint16 prescale, sint16 target) { (void)prescale; (void)target; }

/* user_main.c renames the station when the wifi module is in the build; without Wi-Fi on the
 * host there is no station to rename. */
__attribute__((weak)) void wifi_change_default_host_name(void) {}

/* user_main.c starts rtctime's clock early and late when that module is in the build; rtctime
 * drives the RTC timer registers and sleep directly and is not on the host. */
__attribute__((weak)) void rtctime_early_startup(void) {}
__attribute__((weak)) void rtctime_late_startup(void) {}
