/*
 * The SDK's system_* API and the ROM's ets_* helpers: facts about the chip from the board
 * (chip id, MAC, reset reason), the partition table, RTC time and memory, restart and deep sleep
 * as board events, os_printf, random numbers.
 */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ets_sys.h"
#include "lauxlib.h"
#include "lua.h"
#include "osapi.h"
#include "platform.h"
#include "user_interface.h"

#ifndef HOST_SDK_VERSION
#define HOST_SDK_VERSION "3.0.1-dev(fce080e)"
#endif
char SDK_VERSION[] = HOST_SDK_VERSION;
const char *system_get_sdk_version(void) { return SDK_VERSION; }

/* ---- partition table ------------------------------------------------------------------------ */
static partition_item_t pt[32];
static uint32_t npt;
static int pt_ok;

int host_pt_registered(void) { return pt_ok; }

bool system_partition_table_regist(const partition_item_t *table, uint32 n, uint32 map) {
  (void)map;
  if (n > 32)
    return false;
  /* the SDK checks that the partitions are sector aligned, in order and inside the flash */
  uint32_t last = 0;
  for (uint32 i = 0; i < n; i++) {
    if (table[i].addr % 4096 || table[i].size % 4096 || table[i].addr < last ||
        table[i].addr + table[i].size > host_flash_size())
      return false;
    last = table[i].addr + table[i].size;
  }
  memcpy(pt, table, n * sizeof *table);
  npt = n;
  pt_ok = 1;
  return true;
}

bool system_partition_get_item(partition_type_t type, partition_item_t *item) {
  for (uint32 i = 0; i < npt; i++)
    if (pt[i].type == type) {
      *item = pt[i];
      return true;
    }
  return false;
}

enum flash_size_map system_get_flash_size_map(void) {
  uint8_t head[4];
  memcpy(head, (const void *)HOST_FLASH_MAPPED, 4);  /* the boot image's header, byte 3 */
  return (enum flash_size_map)(head[3] >> 4);
}

/* ---- chip facts ----------------------------------------------------------------------------- */
uint32 system_get_chip_id(void) { return host_opt.chip_id; }

bool wifi_get_macaddr(uint8 if_index, uint8 *mac) {
  memcpy(mac, host_opt.mac, 6);
  if (if_index == SOFTAP_IF)
    mac[0] |= 0x02;  /* the SDK's soft-AP MAC is the station MAC with the local bit set */
  return true;
}

static struct rst_info rst;
struct rst_info *system_get_rst_info(void) {
  rst.reason = host_opt.rst_reason;
  return &rst;
}
int rtc_get_reset_reason(void) { return host_opt.rst_cause; }

uint32 system_get_free_heap_size(void) { return host_heap_free(); }
void system_print_meminfo(void) {}
void system_show_malloc(void) {}

uint32 system_get_time(void) { return (uint32)host_now_us(); }

/* RTC: a 150 kHz slow clock, calibrated as cycles of 6.67 µs (Q12 fixed point) */
#define RTC_CALI ((uint32)(6.6667 * 4096))
uint32 system_rtc_clock_cali_proc(void) { return RTC_CALI; }
uint32 system_get_rtc_time(void) { return (uint32)(host_now_us() * 4096 / RTC_CALI); }

/* RTC memory: 768 bytes at 0x60001100 (the user part, blocks 64..191, from 0x60001200), mapped as
 * plain memory so rtcmem's direct reads and writes (rtcaccess.h) and system_rtc_mem_* agree. It
 * survives deep sleep (and restarts) through --rtc FILE, as it survives on the chip. */
#include <sys/mman.h>
#define RTC_MEM ((uint8_t *)0x60001100)
#define RTC_MEM_BYTES 768

void host_rtc_init(void) {
  void *m = mmap((void *)0x60001000, 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (m != (void *)0x60001000) {
    fprintf(stderr, "error: cannot map RTC memory\n");
    _exit(1);
  }
  if (host_opt.rtc_path) {
    FILE *f = fopen(host_opt.rtc_path, "rb");
    if (f) {
      if (fread(RTC_MEM, 1, RTC_MEM_BYTES, f) != RTC_MEM_BYTES)
        memset(RTC_MEM, 0, RTC_MEM_BYTES);
      fclose(f);
    }
  }
}

void host_rtc_save(void) {
  if (host_opt.rtc_path) {
    FILE *f = fopen(host_opt.rtc_path, "wb");
    if (f) {
      fwrite(RTC_MEM, 1, RTC_MEM_BYTES, f);
      fclose(f);
    }
  }
}

bool system_rtc_mem_read(uint8 src, void *dst, uint16 n) {
  if (src < 64 || (uint32)src * 4 + n > RTC_MEM_BYTES)
    return false;
  memcpy(dst, RTC_MEM + src * 4, n);
  return true;
}
bool system_rtc_mem_write(uint8 dst, const void *src, uint16 n) {
  if (dst < 64 || (uint32)dst * 4 + n > RTC_MEM_BYTES)
    return false;
  memcpy(RTC_MEM + dst * 4, src, n);
  return true;
}

uint16 system_adc_read(void) { return (uint16)host_opt.adc; }
void system_adc_read_fast(uint16 *buf, uint16 n, uint8 div) {
  (void)div;
  for (int i = 0; i < n; i++)
    buf[i] = (uint16)host_opt.adc;
}
uint16 system_get_vdd33(void) { return 3300; }

/* ---- CPU ------------------------------------------------------------------------------------ */
static uint8 cpu_freq = 80;
bool system_update_cpu_freq(uint8 freq) {
  if (freq != 80 && freq != 160)
    return false;
  cpu_freq = freq;
  host_set_cpu_mhz(freq);
  return true;
}
uint8 system_get_cpu_freq(void) { return cpu_freq; }
void ets_update_cpu_frequency(uint32_t mhz) { system_update_cpu_freq((uint8)mhz); }
uint32_t ets_get_cpu_frequency(void) { return cpu_freq; }
unsigned int xthal_get_ccount(void) {
  extern int32_t host_ccount(void);
  return (unsigned int)host_ccount();
}

/* ---- restart, sleep, watchdog --------------------------------------------------------------- */
void system_restart(void) { host_request_restart(2, REASON_SOFT_RESTART); }
void system_restore(void) {}
void _ResetHandler(void) { host_reset(2, REASON_SOFT_RESTART); }

static uint8 sleep_option;
bool system_deep_sleep_set_option(uint8 option) {
  sleep_option = option;
  return true;
}
bool system_deep_sleep(uint64 us) {
  host_request_sleep(us, sleep_option);
  return true;
}
bool system_deep_sleep_instant(uint64 us) {
  host_deep_sleep(us, sleep_option);
  return true;
}

void system_soft_wdt_feed(void) { host_wdt_feed(); }
void system_soft_wdt_stop(void) {}
void system_soft_wdt_restart(void) {}
void system_timer_reinit(void) {}

void ets_delay_us(uint32_t us) { host_spend_ns((uint64_t)us * 1000); }

/* ---- printing ------------------------------------------------------------------------------- */
static uint8 os_print = 1;
void system_set_os_print(uint8 onoff) { os_print = onoff; }
uint8 system_get_os_print(void) { return os_print; }

extern STATUS uart_tx_one_char(uint8 uart, uint8 c);
static void (*putc1)(char);
void ets_install_putc1(void (*p)(char c)) { putc1 = p; }

/* The ROM's ets_putc: UART0, "\n" as "\r\n". */
static void rom_putc(char c) {
  if (putc1) {
    putc1(c);
    return;
  }
  if (c == '\n')
    uart_tx_one_char(0, '\r');
  uart_tx_one_char(0, (uint8)c);
}

int os_printf_plus(const char *fmt, ...) {
  if (!os_print)
    return 0;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (char *p = buf; *p; p++)
    rom_putc(*p);
  return n;
}

int ets_printf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (char *p = buf; *p; p++)
    rom_putc(*p);
  return n;
}

int ets_sprintf(char *str, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsprintf(str, fmt, ap);
  va_end(ap);
  return n;
}

int ets_vsprintf(char *d, const char *s, va_list ap) { return vsprintf(d, s, ap); }

int ets_snprintf(char *str, unsigned int size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(str, size, fmt, ap);
  va_end(ap);
  return n;
}

void ets_bzero(void *s, size_t n) { memset(s, 0, n); }
int ets_memcmp(const void *a, const void *b, size_t n) { return memcmp(a, b, n); }
void *ets_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
void *ets_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }
void *ets_memset(void *d, int v, size_t n) { return memset(d, v, n); }
int ets_strcmp(const char *a, const char *b) { return strcmp(a, b); }
char *ets_strcpy(char *a, const char *b) { return strcpy(a, b); }
int ets_strlen(const char *s) { return (int)strlen(s); }
int ets_strncmp(const char *a, const char *b, size_t n) { return strncmp(a, b, n); }
char *ets_strncpy(char *a, const char *b, size_t n) { return strncpy(a, b, n); }
char *ets_strstr(const char *a, const char *b) { return strstr(a, b); }

/* ---- random --------------------------------------------------------------------------------- */
/* The chip's hardware RNG; here a generator seeded from the chip id and the boot. */
static uint32_t rng_state;
static uint32_t rng(void) {
  if (!rng_state)
    rng_state = host_opt.chip_id * 2654435761u + 0x9E3779B9u + host_opt.rst_reason;
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}
unsigned long os_random(void) { return rng(); }
int os_get_random(unsigned char *buf, size_t len) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (unsigned char)rng();
  return 0;
}
unsigned long r_rand(void) { return rng(); }

/* ---- boot end: seal the heap ---------------------------------------------------------------- */
/* lua.c's pmain reads the init string right after the banner: the boot is done, the rest of the
 * heap is the application's. */
uint32_t __real_platform_rcr_read(uint8_t rec_id, void **rec);
uint32_t __wrap_platform_rcr_read(uint8_t rec_id, void **rec) {
  static int sealed;
  if (rec_id == PLATFORM_RCR_INITSTR && !sealed) {
    sealed = 1;
    extern lua_State *lua_getstate(void);
    lua_State *L = lua_getstate();
    if (L)
      lua_gc(L, LUA_GCCOLLECT, 0);
    if (host_opt.heap_after_boot)
      host_heap_seal(host_opt.heap_after_boot);
  }
  return __real_platform_rcr_read(rec_id, rec);
}

/* ---- SDK odds and ends the tree calls ------------------------------------------------------- */
uint32 system_get_userbin_addr(void) { return 0; }
uint8 system_get_boot_mode(void) { return SYS_BOOT_NORMAL_MODE; }
uint8 system_get_boot_version(void) { return 31; }
uint32 user_rf_cal_sector_set(void);

/* The chip's double -> int conversion (Xtensa libgcc __fixdfsi): truncation, saturating out of
 * range, NaN as the largest int. See hostify.py (string.format's %d). */
long host_fixdfsi(double d) {
  if (d != d || d >= 2147483648.0)
    return 2147483647L;
  if (d <= -2147483649.0)
    return -2147483647L - 1;
  return (long)d;
}
