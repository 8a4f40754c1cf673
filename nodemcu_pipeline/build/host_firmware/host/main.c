/*
 * nodemcu-host: a NodeMCU tree's own firmware, compiled for the host, as one board's chip.
 *
 * Two ways to drive it:
 *   stdio (default): UART0 is stdin/stdout, board time runs at the wall clock's rate while the
 *     firmware is idle and ahead of it by what tasks cost (the Python board's non-realtime model);
 *     a restart re-executes the program on the same flash (fresh RAM), as the chip reboots.
 *   --pipe: the framed protocol of PROTOCOL.md on fds 0/1; the board grants time, sends UART and
 *     pin input, and receives output and events; a restart ends the process.
 */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "user_version.h"
#include "osapi.h"

struct host_options host_opt = {
    .heap_after_boot = 44000,
    .chip_id = 0x00C0FFEE,
    .mac = {0x5C, 0xCF, 0x7F, 0xC0, 0xFF, 0xEE},
    .rst_cause = 1,
    .rst_reason = 0,
    .adc = 0,
    .cpu_mhz = 80,
};

static char **saved_argv;
int host_pipe_mode(void) { return host_opt.pipe_mode; }

/* ---- output --------------------------------------------------------------------------------- */
static uint8_t out[65536];
static size_t outn;

static void write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      _exit(3); /* the board went away */
    }
    b += w;
    n -= (size_t)w;
  }
}

void host_flush(void) {
  if (outn)
    write_all(1, out, outn);
  outn = 0;
}

static void out_bytes(const void *p, size_t n) {
  if (outn + n > sizeof out)
    host_flush();
  if (n > sizeof out) {
    write_all(1, p, n);
    return;
  }
  memcpy(out + outn, p, n);
  outn += n;
}

static void put_u8(uint8_t v) { out_bytes(&v, 1); }
static void put_u32(uint32_t v) { out_bytes(&v, 4); } /* little-endian host */
static void put_u64(uint64_t v) { out_bytes(&v, 8); }
static void frame(char type, uint32_t len) {
  put_u8((uint8_t)type);
  put_u32(len);
}

/* UART output is batched into one 'U' frame while bytes follow each other on the line. */
static struct {
  int open, uart;
  uint32_t baud;
  uint64_t start, next;
  uint8_t data[1024];
  size_t n;
} tx;

static void tx_close(void) {
  if (!tx.open)
    return;
  frame('U', 1 + 4 + 8 + (uint32_t)tx.n);
  put_u8((uint8_t)tx.uart);
  put_u32(tx.baud);
  put_u64(tx.start);
  out_bytes(tx.data, tx.n);
  tx.open = 0;
  tx.n = 0;
}

void host_tx(int uart, uint8_t byte, uint64_t at_ns, uint32_t baud) {
  if (!host_opt.pipe_mode) {
    if (uart == 0)
      out_bytes(&byte, 1);
    return;
  }
  uint64_t per = 10ull * 1000000000ull / baud;
  if (tx.open && (tx.uart != uart || tx.baud != baud || tx.n == sizeof tx.data ||
                  at_ns > tx.next + per / 2))
    tx_close();
  if (!tx.open) {
    tx = (typeof(tx)){.open = 1, .uart = uart, .baud = baud, .start = at_ns};
  }
  tx.data[tx.n++] = byte;
  tx.next = at_ns + per;
}

void host_gpio_out(int gpio, int level, int enabled, uint64_t at_ns) {
  if (!host_opt.pipe_mode)
    return;
  tx_close();
  frame('O', 8 + 3);
  put_u64(at_ns);
  put_u8((uint8_t)gpio);
  put_u8((uint8_t)level);
  put_u8((uint8_t)enabled);
}

void host_note(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (n >= (int)sizeof buf)
    n = sizeof buf - 1;
  if (host_opt.pipe_mode) {
    tx_close();
    frame('N', (uint32_t)n);
    out_bytes(buf, (size_t)n);
  } else {
    fprintf(stderr, "nodemcu-host: %s\n", buf);
  }
}

/* 'T': where the firmware stands. busy: paused inside a task at its grant (it needs more time
 * to finish); else idle until next_due (UINT64_MAX: nothing scheduled, only input wakes it). */
static void report_state(int busy) {
  tx_close();
  frame('T', 17);
  put_u64(host_now_ns());
  put_u64(busy ? host_now_ns() : host_next_due_ns());
  put_u8((uint8_t)busy);
  host_flush();
}
static void report(void) { report_state(0); }

static void restart_in_place(int cause, int reason) __attribute__((noreturn));
static void restart_in_place(int cause, int reason) {
  char boot[32];
  snprintf(boot, sizeof boot, "--boot=%d,%d", cause, reason);
  int n = 0;
  while (saved_argv[n])
    n++;
  static char *argv[64];
  if (n > 60)
    n = 60;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (strncmp(saved_argv[i], "--boot", 6) != 0 && strcmp(saved_argv[i], "--provision") != 0)
      argv[k++] = saved_argv[i];
  argv[k++] = boot;
  argv[k] = NULL;
  execv("/proc/self/exe", argv);
  fprintf(stderr, "nodemcu-host: cannot restart: %s\n", strerror(errno));
  _exit(4);
}

void host_reset(int cause, int reason) {
  host_rtc_save();
  if (host_opt.pipe_mode) {
    tx_close();
    frame('X', 2);
    put_u8((uint8_t)cause);
    put_u8((uint8_t)reason);
    report();
    _exit(0);
  }
  host_flush();
  fprintf(stderr, "\nnodemcu-host: reset (rst cause %d, reason %d)\n", cause, reason);
  if (host_opt.exit_on_reset)
    _exit(10 + cause);
  restart_in_place(cause, reason);
}

void host_deep_sleep(uint64_t us, int option) {
  host_rtc_save();
  if (host_opt.pipe_mode) {
    tx_close();
    frame('S', 9);
    put_u64(us);
    put_u8((uint8_t)option);
    report();
    _exit(0);
  }
  host_flush();
  fprintf(stderr, "\nnodemcu-host: deep sleep for %llu us (option %d)\n", (unsigned long long)us, option);
  if (host_opt.exit_on_reset)
    _exit(20);
  restart_in_place(5, 5);
}

/* ---- input (pipe mode) ---------------------------------------------------------------------- */
static int read_full(int fd, void *p, size_t n) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = read(fd, b, n);
    if (r == 0)
      return 0;
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return 0;
    }
    b += r;
    n -= (size_t)r;
  }
  return 1;
}

static uint64_t granted;

/* Handle one frame from the board; returns 0 at the end of input. */
static int read_frame(void) {
  uint8_t hdr[5];
  if (!read_full(0, hdr, 5))
    return 0;
  uint32_t len;
  memcpy(&len, hdr + 1, 4);
  static uint8_t buf[1 << 20];
  if (len > sizeof buf) {
    host_note("frame of %u bytes is too long; closing", len);
    return 0;
  }
  if (!read_full(0, buf, len))
    return 0;
  uint64_t t;
  switch (hdr[0]) {
    case 'G':
      if (len >= 8) {
        memcpy(&t, buf, 8);
        granted = t;
      }
      break;
    case 'R':
      if (len >= 8) {
        memcpy(&t, buf, 8);
        host_uart_rx(buf + 8, len - 8, t < host_now_ns() ? host_now_ns() : t);
      }
      break;
    case 'P':
      if (len >= 10)
        host_gpio_drive(buf[8], (int8_t)buf[9]);
      break;
    case 'A':
      if (len >= 2)
        host_opt.adc = (uint32_t)buf[0] | ((uint32_t)buf[1] << 8);
      break;
    case 'Q':
      return 0;
    default:
      host_note("unknown frame type 0x%02x ignored", hdr[0]);
  }
  return 1;
}

/* A task used up its grant: report, and wait for more time. */
uint64_t host_wait_grant(void) {
  report_state(1);
  uint64_t before = granted;
  while (granted <= before || granted <= host_now_ns()) {
    if (!read_frame())
      return 0;
  }
  return granted;
}

static void run_pipe(void) {
  /* hello: what this firmware is */
  const char *hello = NODE_VERSION "\n";
  frame('H', (uint32_t)strlen(hello));
  out_bytes(hello, strlen(hello));
  host_flush();
  for (;;) {
    if (!read_frame())
      break;
    if (granted > host_now_ns()) {
      host_run_until(granted);
      report();
    }
  }
  host_rtc_save();
  _exit(0);
}

/* ---- stdio mode ----------------------------------------------------------------------------- */
static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void run_stdio(void) {
  int eof = 0;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  for (;;) {
    host_run_until(host_now_ns());
    host_flush();
    uint64_t next = host_next_due_ns();
    if (next <= host_now_ns())
      continue;
    if (eof && next == UINT64_MAX)
      break;
    struct pollfd pfd = {0, POLLIN, 0};
    int timeout = -1;
    if (next != UINT64_MAX) {
      uint64_t ms = (next - host_now_ns() + 999999) / 1000000;
      timeout = ms > 1000000 ? 1000000 : (int)ms;
    }
    uint64_t w0 = mono_ns();
    int r = poll(eof ? NULL : &pfd, eof ? 0 : 1, timeout);
    uint64_t waited = mono_ns() - w0;
    uint64_t target = host_now_ns() + waited;
    if (r > 0) {
      uint8_t buf[4096];
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0)
        host_uart_rx(buf, (size_t)n, target);
      else if (n == 0)
        eof = 1;
    }
    if (target > host_now_ns())
      host_run_until(target);
  }
  host_flush();
  host_rtc_save();
}

/* ---- crashes ------------------------------------------------------------------------------ */
/* A fault in the firmware's C is the chip's fatal exception: the SDK prints its register dump
 * and the chip restarts (rst cause 2, rst_info.reason 2). */
#include <signal.h>
static void fatal_signal(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  uint32_t addr = (uint32_t)(uintptr_t)si->si_addr;
  int cause = sig == SIGSEGV ? (addr >= HOST_FLASH_MAPPED && addr < HOST_FLASH_MAPPED + host_flash_size()
                                    ? 29 : 28)
              : sig == SIGFPE ? 6 : 0;
  const char *name = cause == 29 ? "StoreProhibitedCause" : cause == 28 ? "LoadProhibitedCause"
                     : cause == 6 ? "IntegerDivideByZeroCause" : "IllegalInstructionCause";
  char msg[200];
  int n = snprintf(msg, sizeof msg,
                   "\nFatal exception %d(%s):\nepc1=0x40200000, epc2=0x00000000, epc3=0x00000000, "
                   "excvaddr=0x%08x, depc=0x00000000\n", cause, name, addr);
  extern STATUS uart_tx_one_char(uint8 uart, uint8 c);
  for (int i = 0; i < n; i++) {
    if (msg[i] == '\n')
      host_tx(0, '\r', host_now_ns(), 115200);
    host_tx(0, (uint8_t)msg[i], host_now_ns(), 115200);
  }
  host_reset(2, 2);
}

static void catch_faults(void) {
  static uint8_t altstack[16384];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
}

/* ---- options -------------------------------------------------------------------------------- */
static void usage(void) {
  fprintf(stderr,
          "usage: nodemcu-host --flash FILE [--flash-size KB] [--provision] [--pipe]\n"
          "         [--heap BYTES] [--chip-id N] [--mac aa:bb:cc:dd:ee:ff] [--boot CAUSE,REASON]\n"
          "         [--adc N] [--rtc FILE] [--exit-on-reset] [--info]\n");
  exit(2);
}

static const char *arg_value(int *i, int argc, char **argv, const char *name) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (strcmp(argv[*i], name) == 0) {
    if (*i + 1 >= argc)
      usage();
    return argv[++*i];
  }
  return NULL;
}

/* The modules in this build: the ROM table the linker collected (as node.info's list). */
extern const struct { const char *key; uint32_t v[3]; } lua_rotable_base[];
static void print_modules(void) {
  fprintf(stdout, "rom:");
  for (int i = 0; lua_rotable_base[i].key; i++)
    fprintf(stdout, " %s", lua_rotable_base[i].key);
  fprintf(stdout, "\n");
}

int main(int argc, char **argv) {
  saved_argv = argv;
  int create_kb = 0, provision = 0, info = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = arg_value(&i, argc, argv, "--flash")))
      host_opt.flash_path = v;
    else if ((v = arg_value(&i, argc, argv, "--flash-size")))
      create_kb = atoi(v);
    else if ((v = arg_value(&i, argc, argv, "--heap")))
      host_opt.heap_after_boot = (uint32_t)strtoul(v, NULL, 0);
    else if ((v = arg_value(&i, argc, argv, "--chip-id")))
      host_opt.chip_id = (uint32_t)strtoul(v, NULL, 0);
    else if ((v = arg_value(&i, argc, argv, "--mac"))) {
      unsigned m[6];
      if (sscanf(v, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
        usage();
      for (int k = 0; k < 6; k++)
        host_opt.mac[k] = (uint8_t)m[k];
    } else if ((v = arg_value(&i, argc, argv, "--boot"))) {
      int c, r;
      if (sscanf(v, "%d,%d", &c, &r) != 2)
        usage();
      host_opt.rst_cause = (uint8_t)c;
      host_opt.rst_reason = (uint8_t)r;
    } else if ((v = arg_value(&i, argc, argv, "--adc")))
      host_opt.adc = (uint32_t)strtoul(v, NULL, 0);
    else if ((v = arg_value(&i, argc, argv, "--rtc")))
      host_opt.rtc_path = v;
    else if (!strcmp(argv[i], "--pipe"))
      host_opt.pipe_mode = 1;
    else if (!strcmp(argv[i], "--exit-on-reset"))
      host_opt.exit_on_reset = 1;
    else if (!strcmp(argv[i], "--provision"))
      provision = 1;
    else if (!strcmp(argv[i], "--info"))
      info = 1;
    else if (!strcmp(argv[i], "-v"))
      host_opt.verbose = 1;
    else
      usage();
  }
  if (info) {
    fprintf(stdout, "%s\n", NODE_VERSION);
    print_modules();
    return 0;
  }
  if (!host_opt.flash_path)
    usage();
  if (host_flash_open(host_opt.flash_path, create_kb) != 0)
    return 1;
  host_heap_init();
  host_rtc_init();
  host_regs_init();
  catch_faults();
  if (provision && *(const uint32_t *)(HOST_FLASH_MAPPED + 0x10000) == 0xFFFFFFFFu)
    host_flash_provision();
  if (host_opt.pipe_mode)
    run_pipe();
  else
    run_stdio();
  return 0;
}
