/*
 * The peripherals behind the registers that the tree's own drivers (driver/uart.c, driver/gpio16.c,
 * platform.c's GPIO code) read and write, and the SDK/ROM GPIO functions.
 *
 * UART0/1: writing the FIFO register sends a byte; the TX FIFO (128 bytes) drains at the baud rate
 * set in CLKDIV, so a driver that polls STATUS for room waits, and that wait is board time (a task
 * printing 40 KB at 115200 baud spends 3.5 s and meets the watchdog). Received bytes arrive one by
 * one at the baud rate into a 128-byte RX FIFO (bytes beyond it are lost) and raise the RX
 * interrupt the driver enabled; its ISR moves them into the ROM's 256-byte ring.
 *
 * GPIO 0..15 (GPIO_OUT/ENABLE/IN/STATUS and the pin registers) and GPIO16 (RTC GPIO): an input reads
 * the level the board drives, else the pin's own output when enabled, else its pull-up. Edges and
 * levels set STATUS bits per the pin's interrupt type and raise the GPIO interrupt.
 * Any other register keeps what was written to it.
 */
#include "host.h"

#include <stdint.h>
#include <string.h>

#include "driver/uart.h"
#include "driver/uart_register.h"
#include "eagle_soc.h"
#include "ets_sys.h"
#include "gpio.h"

extern int host_isr_raise(int inum);

/* ---- plain registers ------------------------------------------------------------------------ */
#define NPLAIN 256
static struct { uint32_t addr, val; } plain[NPLAIN];
static int nplain;

static uint32_t *plain_slot(uint32_t addr, int create) {
  for (int i = 0; i < nplain; i++)
    if (plain[i].addr == addr)
      return &plain[i].val;
  if (!create || nplain == NPLAIN)
    return NULL;
  plain[nplain].addr = addr;
  plain[nplain].val = 0;
  return &plain[nplain++].val;
}

/* ---- UART ----------------------------------------------------------------------------------- */
#define FIFO_LEN 128
#define STD_RATES 18
static const uint32_t std_rates[STD_RATES] = {300,    600,    1200,   2400,   4800,    9600,
                                              19200,  31250,  38400,  57600,  74880,   115200,
                                              230400, 256000, 460800, 921600, 1843200, 3686400};

struct uart {
  uint32_t clkdiv, conf0, conf1, int_ena, int_raw;
  uint64_t tx_free_at;    /* when the last queued byte has left the shift register */
  uint8_t rx[FIFO_LEN];
  int rx_head, rx_count;
};
static struct uart uarts[2];

/* Bytes on their way in: each arrives 10 bit times after the previous one. */
#define RXQ 65536
static uint8_t rxq[RXQ];
static uint64_t rxq_at[RXQ];
static int rxq_head, rxq_count;
static uint64_t rx_line_free;

/* ROM data the drivers use. */
static uint8 rx_ring[RX_BUFF_SIZE + 1];
UartDevice UartDev = {
    .baut_rate = BIT_RATE_74880,
    .data_bits = EIGHT_BITS,
    .exist_parity = STICK_PARITY_DIS,
    .parity = NONE_BITS,
    .stop_bits = ONE_STOP_BIT,
    .flow_ctrl = NONE_CTRL,
    .rcv_buff = {RX_BUFF_SIZE, rx_ring, rx_ring, rx_ring, 1, EMPTY},
    .trx_buff = {TX_BUFF_SIZE, NULL},
    .rcv_state = BAUD_RATE_DET,
    .received = 0,
    .buff_uart_no = 0,
};

static uint32_t uart_baud(int u) {
  uint32_t div = uarts[u].clkdiv & UART_CLKDIV_CNT;
  uint32_t raw = div ? UART_CLK_FREQ / div : 115200;
  for (int i = 0; i < STD_RATES; i++) { /* the nominal rate the divider was computed from */
    uint32_t r = std_rates[i];
    if (raw * 100 >= r * 97 && raw * 100 <= r * 103)
      return r;
  }
  return raw;
}

static uint64_t byte_ns(int u) {
  uint32_t conf = uarts[u].conf0;
  int bits = 1 + 5 + ((conf >> UART_BIT_NUM_S) & UART_BIT_NUM) + ((conf & UART_PARITY_EN) ? 1 : 0);
  int stop = (conf >> UART_STOP_BIT_NUM_S) & UART_STOP_BIT_NUM;
  bits += stop == 3 ? 2 : 1;
  return (uint64_t)bits * 1000000000ull / uart_baud(u);
}

static int tx_fifo_count(int u) {
  uint64_t now = host_now_ns();
  if (uarts[u].tx_free_at <= now)
    return 0;
  uint64_t n = (uarts[u].tx_free_at - now + byte_ns(u) - 1) / byte_ns(u);
  return n > FIFO_LEN ? FIFO_LEN : (int)n;
}

static void uart_tx_byte(int u, uint8_t c) {
  uint64_t now = host_now_ns();
  uint64_t start = uarts[u].tx_free_at > now ? uarts[u].tx_free_at : now;
  uarts[u].tx_free_at = start + byte_ns(u);
  host_tx(u, c, start, uart_baud(u));
}

/* A driver that polls STATUS in a loop (for TX room, or for the FIFO to drain) is waiting: the
 * same value read again with no other register access between is a busy-wait, and costs one byte
 * time on the board clock. */
static uint32_t reg_accesses, status_seen_at, status_last;
static int status_repeats;

static uint32_t uart_status(int u) {
  int n = tx_fifo_count(u);
  uint32_t v = ((uint32_t)n << UART_TXFIFO_CNT_S) | ((uint32_t)uarts[u].rx_count << UART_RXFIFO_CNT_S);
  if (n > 0 && v == status_last && status_seen_at + 1 == reg_accesses) {
    if (++status_repeats >= 2) {
      status_repeats = 0;
      host_spend_ns(byte_ns(u));
      n = tx_fifo_count(u);
      v = ((uint32_t)n << UART_TXFIFO_CNT_S) | ((uint32_t)uarts[u].rx_count << UART_RXFIFO_CNT_S);
    }
  } else {
    status_repeats = 0;
  }
  status_last = v;
  status_seen_at = reg_accesses;
  return v;
}

static void uart_update_irq(int u) {
  struct uart *p = &uarts[u];
  uint32_t thr = (p->conf1 >> UART_RXFIFO_FULL_THRHD_S) & UART_RXFIFO_FULL_THRHD;
  if (p->rx_count && p->rx_count >= (int)(thr ? thr : 1))
    p->int_raw |= UART_RXFIFO_FULL_INT_RAW;
  else
    p->int_raw &= ~UART_RXFIFO_FULL_INT_RAW;
  if (u == 0 && (p->int_raw & p->int_ena))
    host_isr_raise(ETS_UART_INUM);
}

void host_uart_rx(const uint8_t *data, size_t n, uint64_t at_ns) {
  uint64_t t = at_ns > rx_line_free ? at_ns : rx_line_free;
  for (size_t i = 0; i < n; i++) {
    if (rxq_count == RXQ) {
      host_note("UART input queue full: byte dropped");
      continue;
    }
    t += byte_ns(0);
    int slot = (rxq_head + rxq_count++) % RXQ;
    rxq[slot] = data[i];
    rxq_at[slot] = t;
  }
  rx_line_free = t;
}

/* ---- FRC1: the timer behind platform_hw_timer (hw_timer.c) ---------------------------------- */
/* LOAD starts a count-down at APB/16 (5 MHz, 200 ns a tick) when CTRL enables it; at zero the
 * timer interrupt (or the NMI handler, when one is set) runs, and AUTO_LOAD starts it again. */
#define FRC1_BASE 0x60000600u
static uint32_t frc1_load, frc1_ctrl;
static uint64_t frc1_fire_at = UINT64_MAX;
static void (*nmi_fn)(void);
void NmiTimSetFunc(void (*func)(void)) { nmi_fn = func; }

static uint64_t frc1_tick_ns(void) {
  static const uint32_t div[4] = {1, 16, 256, 256};
  return 1000000000ull * div[(frc1_ctrl >> 2) & 3] / UART_CLK_FREQ;
}

static void frc1_start(void) {
  frc1_fire_at = (frc1_ctrl & 0x80) && frc1_load ? host_now_ns() + frc1_load * frc1_tick_ns() : UINT64_MAX;
}

static uint32_t frc1_count(void) {
  if (frc1_fire_at == UINT64_MAX || frc1_fire_at <= host_now_ns())
    return 0;
  return (uint32_t)((frc1_fire_at - host_now_ns()) / frc1_tick_ns());
}

static void frc1_due(void) {
  while (frc1_fire_at <= host_now_ns()) {
    frc1_fire_at = (frc1_ctrl & 0x40) ? frc1_fire_at + frc1_load * frc1_tick_ns() : UINT64_MAX;
    if (nmi_fn)
      nmi_fn();
    else
      host_isr_raise(ETS_FRC_TIMER1_INUM);
    if (!(frc1_ctrl & 0x40) || !frc1_load)
      break;
  }
}

uint64_t host_hw_next_ns(void) {
  uint64_t rx = rxq_count ? rxq_at[rxq_head] : UINT64_MAX;
  return rx < frc1_fire_at ? rx : frc1_fire_at;
}

void host_hw_deliver_due(void) {
  uint64_t now = host_now_ns();
  if (frc1_fire_at <= now)
    frc1_due();
  struct uart *p = &uarts[0];
  int got = 0;
  while (rxq_count && rxq_at[rxq_head] <= now) {
    uint8_t c = rxq[rxq_head];
    rxq_head = (rxq_head + 1) % RXQ;
    rxq_count--;
    if (p->rx_count < FIFO_LEN) {
      p->rx[(p->rx_head + p->rx_count++) % FIFO_LEN] = c;
    }  /* else: RX FIFO overflow, the byte is lost */
    got = 1;
    /* the ISR may run between bytes when the interrupt is enabled */
    uart_update_irq(0);
  }
  if (!got && p->rx_count)
    uart_update_irq(0);
}

static uint32_t uart_read(int u, uint32_t off) {
  struct uart *p = &uarts[u];
  switch (off) {
    case 0x0:
      if (p->rx_count) {
        uint8_t c = p->rx[p->rx_head];
        p->rx_head = (p->rx_head + 1) % FIFO_LEN;
        p->rx_count--;
        if (!p->rx_count)
          p->int_raw &= ~UART_RXFIFO_FULL_INT_RAW;
        return c;
      }
      return 0;
    case 0x4: return p->int_raw;
    case 0x8: return p->int_raw & p->int_ena;
    case 0xC: return p->int_ena;
    case 0x14: return p->clkdiv;
    case 0x1C: return uart_status(u);
    case 0x20: return p->conf0;
    case 0x24: return p->conf1;
    default: return 0;
  }
}

static void uart_write(int u, uint32_t off, uint32_t val) {
  struct uart *p = &uarts[u];
  switch (off) {
    case 0x0: uart_tx_byte(u, val & 0xFF); break;
    case 0xC: p->int_ena = val; break;
    case 0x10:
      p->int_raw &= ~val;
      if (u == 0)
        uart_update_irq(0);  /* still above the threshold: the interrupt stays raised */
      break;
    case 0x14: p->clkdiv = val; break;
    case 0x20:
      if (val & UART_RXFIFO_RST)
        p->rx_count = 0;
      p->conf0 = val & ~(UART_RXFIFO_RST | UART_TXFIFO_RST);
      break;
    case 0x24: p->conf1 = val; break;
    default: break;
  }
}

/* ---- GPIO ----------------------------------------------------------------------------------- */
static uint32_t gpio_out, gpio_enable, gpio_status, gpio_pin[16];
static int8_t driven[17];         /* -1: not driven by the board */
static uint32_t last_in;          /* levels the interrupt logic last saw */
static uint32_t rtc_out, rtc_enable;
static const uint8_t mux_off[16] = {0x34, 0x18, 0x38, 0x14, 0x3C, 0x40, 0x1c, 0x20,
                                    0x24, 0x28, 0x2c, 0x30, 0x04, 0x08, 0x0C, 0x10};

static int pulled_up(int g) {
  uint32_t *m = plain_slot(PERIPHS_IO_MUX + mux_off[g], 0);
  return m && (*m & PERIPHS_IO_MUX_PULLUP);
}

static int level_of(int g) {
  if (g == 16) {
    if (driven[16] >= 0)
      return driven[16];
    return (rtc_enable & 1) ? (rtc_out & 1) : 0;
  }
  if (driven[g] >= 0)
    return driven[g];
  if (gpio_enable & (1u << g))
    return (gpio_out >> g) & 1;
  return pulled_up(g);
}

static uint32_t gpio_in(void) {
  uint32_t v = 0;
  for (int g = 0; g < 16; g++)
    v |= (uint32_t)level_of(g) << g;
  return v;
}

/* Edges and levels against each pin's interrupt type; raise the GPIO interrupt if any. */
static void gpio_check_irq(void) {
  uint32_t in = gpio_in();
  for (int g = 0; g < 16; g++) {
    int type = GPIO_PIN_INT_TYPE_GET(gpio_pin[g]);
    int now = (in >> g) & 1, was = (last_in >> g) & 1;
    int hit = (type == GPIO_PIN_INTR_POSEDGE && now && !was) ||
              (type == GPIO_PIN_INTR_NEGEDGE && !now && was) ||
              (type == GPIO_PIN_INTR_ANYEDGE && now != was) ||
              (type == GPIO_PIN_INTR_LOLEVEL && !now) || (type == GPIO_PIN_INTR_HILEVEL && now);
    if (hit)
      gpio_status |= 1u << g;
  }
  last_in = in;
  if (gpio_status)
    host_isr_raise(ETS_GPIO_INUM);
}

static uint32_t reported_out = 0xFFFFFFFF, reported_en = 0xFFFFFFFF;
static void gpio_report(void) {
  uint32_t out = gpio_out | ((rtc_out & 1) << 16), en = gpio_enable | ((rtc_enable & 1) << 16);
  for (int g = 0; g <= 16; g++) {
    uint32_t b = 1u << g;
    if (((out ^ reported_out) | (en ^ reported_en)) & b)
      host_gpio_out(g, (out & b) != 0, (en & b) != 0, host_now_ns());
  }
  reported_out = out;
  reported_en = en;
  gpio_check_irq();
}

void host_gpio_drive(int gpio, int level) {
  if (gpio < 0 || gpio > 16)
    return;
  driven[gpio] = level < 0 ? -1 : (level != 0);
  gpio_check_irq();
}

void gpio_output_set(uint32 set_mask, uint32 clear_mask, uint32 enable_mask, uint32 disable_mask) {
  gpio_out = (gpio_out | set_mask) & ~clear_mask & 0xFFFF;
  gpio_enable = (gpio_enable | enable_mask) & ~disable_mask & 0xFFFF;
  gpio_report();
}

uint32 gpio_input_get(void) { return gpio_in(); }

void gpio_pin_intr_state_set(uint32 i, GPIO_INT_TYPE state) {
  if (i < 16) {
    gpio_pin[i] = (gpio_pin[i] & ~GPIO_PIN_INT_TYPE_MASK) | GPIO_PIN_INT_TYPE_SET(state);
    gpio_check_irq();
  }
}

void gpio_register_set(uint32 reg_id, uint32 value) {
  host_reg_write(PERIPHS_GPIO_BASEADDR + reg_id, value);
}
uint32 gpio_register_get(uint32 reg_id) { return host_reg_read(PERIPHS_GPIO_BASEADDR + reg_id); }
void gpio_init(void) {}
void gpio_intr_handler_register(gpio_intr_handler_fn_t fn, void *arg) { (void)fn; (void)arg; }
uint32 gpio_intr_pending(void) { return gpio_status; }
void gpio_intr_ack(uint32 ack_mask) { gpio_status &= ~ack_mask; }
void gpio_pin_wakeup_enable(uint32 i, GPIO_INT_TYPE s) { (void)i; (void)s; }
void gpio_pin_wakeup_disable(void) {}

static uint32_t gpio_read(uint32_t off) {
  switch (off) {
    case GPIO_OUT_ADDRESS: return gpio_out;
    case GPIO_ENABLE_ADDRESS: return gpio_enable;
    case GPIO_IN_ADDRESS: return gpio_in();
    case GPIO_STATUS_ADDRESS: return gpio_status;
    default:
      if (off >= GPIO_PIN0_ADDRESS && off < GPIO_PIN0_ADDRESS + 64)
        return gpio_pin[(off - GPIO_PIN0_ADDRESS) / 4];
      uint32_t *s = plain_slot(PERIPHS_GPIO_BASEADDR + off, 0);
      return s ? *s : 0;
  }
}

static void gpio_write(uint32_t off, uint32_t v) {
  switch (off) {
    case GPIO_OUT_ADDRESS: gpio_out = v & 0xFFFF; break;
    case GPIO_OUT_W1TS_ADDRESS: gpio_out |= v & 0xFFFF; break;
    case GPIO_OUT_W1TC_ADDRESS: gpio_out &= ~v; break;
    case GPIO_ENABLE_ADDRESS: gpio_enable = v & 0xFFFF; break;
    case GPIO_ENABLE_W1TS_ADDRESS: gpio_enable |= v & 0xFFFF; break;
    case GPIO_ENABLE_W1TC_ADDRESS: gpio_enable &= ~v; break;
    case GPIO_STATUS_ADDRESS: gpio_status = v & 0xFFFF; return;
    case GPIO_STATUS_W1TS_ADDRESS: gpio_status |= v & 0xFFFF; return;
    case GPIO_STATUS_W1TC_ADDRESS:
      gpio_status &= ~v;
      /* a level interrupt still asserted comes straight back */
      for (int g = 0; g < 16; g++) {
        int type = GPIO_PIN_INT_TYPE_GET(gpio_pin[g]);
        int lv = level_of(g);
        if ((v & (1u << g)) && ((type == GPIO_PIN_INTR_LOLEVEL && !lv) || (type == GPIO_PIN_INTR_HILEVEL && lv)))
          gpio_status |= 1u << g;
      }
      return;
    default:
      if (off >= GPIO_PIN0_ADDRESS && off < GPIO_PIN0_ADDRESS + 64) {
        gpio_pin[(off - GPIO_PIN0_ADDRESS) / 4] = v;
        gpio_check_irq();
        return;
      }
      *plain_slot(PERIPHS_GPIO_BASEADDR + off, 1) = v;
      return;
  }
  gpio_report();
}

/* ---- dispatch ------------------------------------------------------------------------------- */
uint32_t host_reg_read(uint32_t addr) {
  reg_accesses++;
  if (addr >= REG_UART_BASE(0) && addr < REG_UART_BASE(0) + 0x80)
    return uart_read(0, addr - REG_UART_BASE(0));
  if (addr >= REG_UART_BASE(1) && addr < REG_UART_BASE(1) + 0x80)
    return uart_read(1, addr - REG_UART_BASE(1));
  if (addr >= PERIPHS_GPIO_BASEADDR && addr < PERIPHS_GPIO_BASEADDR + 0x100)
    return gpio_read(addr - PERIPHS_GPIO_BASEADDR);
  if (addr == FRC1_BASE + FRC1_COUNT_ADDRESS) return frc1_count();
  if (addr == FRC1_BASE + FRC1_LOAD_ADDRESS) return frc1_load;
  if (addr == FRC1_BASE + FRC1_CTRL_ADDRESS) return frc1_ctrl;
  if (addr == RTC_GPIO_OUT) return rtc_out;
  if (addr == RTC_GPIO_ENABLE) return rtc_enable;
  if (addr == RTC_GPIO_IN_DATA) return (uint32_t)level_of(16);
  if (addr == 0x3ff0000c)  /* CACHE_FLASH_CTRL_REG: flash cache on, first megabyte mapped */
    return 0x00000100;
  uint32_t *s = plain_slot(addr, 0);
  return s ? *s : 0;
}

void host_reg_write(uint32_t addr, uint32_t val) {
  reg_accesses++;
  if (addr >= REG_UART_BASE(0) && addr < REG_UART_BASE(0) + 0x80) {
    uart_write(0, addr - REG_UART_BASE(0), val);
  } else if (addr >= REG_UART_BASE(1) && addr < REG_UART_BASE(1) + 0x80) {
    uart_write(1, addr - REG_UART_BASE(1), val);
  } else if (addr >= PERIPHS_GPIO_BASEADDR && addr < PERIPHS_GPIO_BASEADDR + 0x100) {
    gpio_write(addr - PERIPHS_GPIO_BASEADDR, val);
  } else if (addr == FRC1_BASE + FRC1_LOAD_ADDRESS) {
    frc1_load = val & 0x7FFFFF;
    frc1_start();
  } else if (addr == FRC1_BASE + FRC1_CTRL_ADDRESS) {
    frc1_ctrl = val;
    if (!(val & 0x80))
      frc1_fire_at = UINT64_MAX;
  } else if (addr == RTC_GPIO_OUT) {
    rtc_out = val;
    gpio_report();
  } else if (addr == RTC_GPIO_ENABLE) {
    rtc_enable = val;
    gpio_report();
  } else {
    uint32_t *s = plain_slot(addr, 1);
    if (s)
      *s = val;
    if (addr >= PERIPHS_IO_MUX && addr < PERIPHS_IO_MUX + 0x44)
      gpio_check_irq();  /* a pull-up changes what an undriven input reads */
  }
}

void host_isr_unmasked(int inum) {
  if (inum == ETS_UART_INUM)
    uart_update_irq(0);
  else if (inum == ETS_GPIO_INUM && gpio_status)
    host_isr_raise(ETS_GPIO_INUM);
}

void host_regs_init(void) {
  memset(driven, -1, sizeof driven);
  /* The ROM leaves UART0 at 74880 baud (26 MHz crystal: 115200 * 26/40), 8N1. */
  for (int u = 0; u < 2; u++) {
    uarts[u].clkdiv = UART_CLK_FREQ / 74880;
    uarts[u].conf0 = (EIGHT_BITS << UART_BIT_NUM_S) | (ONE_STOP_BIT << UART_STOP_BIT_NUM_S);
    uarts[u].conf1 = 1;
  }
  last_in = gpio_in();
}
