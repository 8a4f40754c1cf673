/*
 * nodemcu-host: the host platform layer under a NodeMCU tree compiled for Linux (i386).
 *
 * The tree's own code (Lua core, LFS, SPIFFS, VFS, drivers, modules, user_main.c) runs unchanged.
 * This layer is what sits below it on a chip: the SDK's libraries and the ROM (tasks, timers,
 * partition table, system_* facts, flash), and the peripherals behind the registers the tree's
 * drivers read and write (UART, GPIO). Time is the board's, not the host's: see sched.c.
 */
#ifndef NODEMCU_HOST_H
#define NODEMCU_HOST_H

#include <stddef.h>
#include <stdint.h>

/* ---- options (main.c) ---------------------------------------------------------------------- */
struct host_options {
  const char *flash_path;
  int pipe_mode;            /* framed protocol on fds 0/1 (PROTOCOL.md); else raw stdio */
  int exit_on_reset;        /* stdio mode: exit instead of restarting in place */
  uint32_t heap_after_boot; /* node.heap() right after boot */
  uint32_t chip_id;
  uint8_t mac[6];
  uint8_t rst_cause;        /* what the ROM printed: 1 power on, 2 reset/exception, 4 wdt, 5 sleep */
  uint8_t rst_reason;       /* rst_info.reason (REASON_*) */
  uint32_t adc;             /* system_adc_read() */
  uint32_t cpu_mhz;
  const char *rtc_path;     /* RTC memory kept across deep sleep (optional) */
  int verbose;
};
extern struct host_options host_opt;

/* ---- board time (sched.c) ------------------------------------------------------------------ */
uint64_t host_now_ns(void);
static inline uint64_t host_now_us(void) { return host_now_ns() / 1000; }
/* The firmware's CPU was busy for ns (a delay loop, a flash erase, a full UART FIFO). */
void host_spend_ns(uint64_t ns);
void host_wdt_feed(void);
uint64_t host_instr_ns(void);  /* price of one Lua VM instruction at the current CPU speed */
void host_set_cpu_mhz(uint32_t mhz);

/* ---- events to the board (proto.c) --------------------------------------------------------- */
void host_tx(int uart, uint8_t byte, uint64_t at_ns, uint32_t baud);
void host_gpio_out(int gpio, int level, int enabled, uint64_t at_ns);
void host_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The chip resets (cause as the ROM prints it, rst_info.reason); never returns. */
void host_reset(int cause, int reason) __attribute__((noreturn));
void host_deep_sleep(uint64_t us, int option) __attribute__((noreturn));
void host_flush(void);

/* ---- scheduler (sched.c) ------------------------------------------------------------------- */
void host_request_restart(int cause, int reason);   /* after the current task */
void host_request_sleep(uint64_t us, int option);   /* after the current task */
/* Run the firmware until board time `until_ns` (the first call boots it: user_pre_init,
 * user_init, the init-done callback); returns 1 if it is idle there (nothing due
 * before `until_ns`), 0 if a task is still running (paused at a safe point). */
int host_run_until(uint64_t until_ns);
uint64_t host_next_due_ns(void);  /* next timer or byte arrival; UINT64_MAX if none */
void host_lua_hook_install(void *L);

/* ---- peripherals (regs.c) ------------------------------------------------------------------ */
void host_uart_rx(const uint8_t *data, size_t n, uint64_t at_ns); /* bytes start arriving at */
uint64_t host_hw_next_ns(void);
void host_hw_deliver_due(void);   /* move arrived bytes into the RX FIFO, raise the interrupt */
void host_gpio_drive(int gpio, int level);  /* -1 releases the pin */
void host_isr_unmasked(int inum);
void host_regs_init(void);

/* ---- flash (flash.c) ----------------------------------------------------------------------- */
#define HOST_FLASH_MAPPED 0x40200000u
int host_flash_open(const char *path, int create_size_kb);
uint32_t host_flash_size(void);
void host_flash_provision(void);  /* blank flash: an image header and this build's partition table */

/* ---- heap (heap.c) ------------------------------------------------------------------------- */
void host_heap_init(void);
void host_heap_seal(uint32_t free_bytes);  /* boot is done: leave exactly this much free */
uint32_t host_heap_free(void);
uint32_t host_heap_largest(void);

/* ---- rtc memory (system.c) ----------------------------------------------------------------- */
void host_rtc_init(void);
void host_rtc_save(void);

#endif
