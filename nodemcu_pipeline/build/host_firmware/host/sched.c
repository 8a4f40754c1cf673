/*
 * The SDK's event loop on the board's clock: user task queues (system_os_task/post), software
 * timers (ets_timer_*), interrupt attach/mask, the watchdog, and the price of Lua instructions.
 *
 * Board time is kept in nanoseconds and only moves when the firmware is charged for work (Lua VM
 * instructions through a count hook, delays, flash operations, waiting on a full UART FIFO) or when
 * it is idle and the driver (main.c) lets time pass up to a limit. In the framed protocol the board
 * grants the limit; when a task reaches it the firmware pauses at a safe point (a hook call) and
 * waits for the next grant, so a busy chip still sees its UART bytes arrive mid-task, as a real
 * one does through the RX interrupt.
 */
#include "host.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ets_sys.h"
#include "lauxlib.h"
#include "lua.h"
#include "osapi.h"
#include "platform.h"
#include "user_interface.h"

/* The price model of the Python virtual board (docs/ARCHITECTURE.md): 600 000 VM instructions
 * per second at 80 MHz, a count hook every HOOK_EVERY instructions, and a watchdog that bites
 * a task running 3.2 s without feeding it (rst cause 4, rst_info.reason 1). */
#define INSTR_PER_S_80MHZ 600000ull
#define HOOK_EVERY 100
#define WDT_NS 3200000000ull
#define NS 1000000000ull

static uint64_t now_ns;
static uint64_t limit_ns = UINT64_MAX;
static int pause_allowed;
static uint32_t cpu_mhz = 80;
static int in_task;
static uint64_t task_start_ns;
static volatile uint32_t progress;
static int restart_pending, restart_cause, restart_reason;
static int sleep_pending, sleep_option;
static uint64_t sleep_us;
static int halted;

uint64_t host_now_ns(void) { return now_ns; }
uint64_t host_instr_ns(void) { return NS * 80 / (INSTR_PER_S_80MHZ * cpu_mhz); }
void host_set_cpu_mhz(uint32_t mhz) { cpu_mhz = mhz == 160 ? 160 : 80; }
int32_t host_ccount(void) { return (int32_t)(uint32_t)(now_ns * cpu_mhz / 1000); }

extern uint64_t host_wait_grant(void);  /* main.c: the next limit; 0 when the board ended the run */

static void wdt_check(void) {
  if (in_task && now_ns - task_start_ns > WDT_NS)
    host_reset(4, 1);
}

/* A safe point inside a task: the grant may be used up, interrupts may be due. */
static int intr_locked, in_isr, rechecking;
static uint32_t isr_pending;
static void safe_point(void) {
  wdt_check();
  while (pause_allowed && now_ns >= limit_ns) {
    limit_ns = host_wait_grant();
    if (!limit_ns)
      host_reset(0, 0);
  }
  if (!intr_locked && !in_isr)
    host_hw_deliver_due();
}

void host_spend_ns(uint64_t ns) {
  progress++;
  now_ns += ns;
  safe_point();
}

void host_wdt_feed(void) { task_start_ns = now_ns; }

/* ---- Lua instruction pricing ----------------------------------------------------------------- */
static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)L; (void)ar;
  host_spend_ns(host_instr_ns() * HOOK_EVERY);
}

void host_lua_hook_install(void *L) {
  lua_sethook((lua_State *)L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

/* Every Lua state the firmware makes (lua_main after each LFS reload, too) is priced. */
lua_State *__real_luaL_newstate(void);
lua_State *__wrap_luaL_newstate(void) {
  lua_State *L = __real_luaL_newstate();
  if (L)
    host_lua_hook_install(L);
  return L;
}

/* A C loop that never returns (lflash.c after an LFS reload, the Lua panic handler) makes no
 * progress on the board clock; after a second of host CPU without any, the watchdog bites as it
 * would on the chip. */
static uint32_t seen_progress;
static int stuck_ticks;
static void cpu_backstop(int sig) {
  (void)sig;
  if (!in_task || progress != seen_progress) {
    seen_progress = progress;
    stuck_ticks = 0;
    return;
  }
  if (++stuck_ticks >= 2)
    host_reset(4, 1);
}

static void backstop_init(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = cpu_backstop;
  sigaction(SIGVTALRM, &sa, NULL);
  struct itimerval it = {{0, 500000}, {0, 500000}};
  setitimer(ITIMER_VIRTUAL, &it, NULL);
}

static void task_begin(void) {
  in_task = 1;
  task_start_ns = now_ns;
  progress++;
}

static void task_end(void) { in_task = 0; }

/* ---- task queues (SDK user tasks 0..2) -------------------------------------------------------- */
struct taskq {
  os_task_t fn;
  os_event_t *q;
  uint8 len, head, count;
};
static struct taskq tq[USER_TASK_PRIO_MAX];

bool system_os_task(os_task_t task, uint8 prio, os_event_t *queue, uint8 qlen) {
  if (prio >= USER_TASK_PRIO_MAX || !queue || !qlen)
    return false;
  tq[prio] = (struct taskq){task, queue, qlen, 0, 0};
  return true;
}

bool system_os_post(uint8 prio, os_signal_t sig, os_param_t par) {
  if (prio >= USER_TASK_PRIO_MAX || !tq[prio].fn || tq[prio].count == tq[prio].len)
    return false;
  struct taskq *t = &tq[prio];
  t->q[(t->head + t->count) % t->len] = (os_event_t){sig, par};
  t->count++;
  return true;
}

/* ---- software timers ------------------------------------------------------------------------ */
struct armed {
  ETSTimer *t;
  uint64_t expire, period;
};
static struct armed timers[64];
static int ntimers;

static int timer_index(ETSTimer *t) {
  for (int i = 0; i < ntimers; i++)
    if (timers[i].t == t)
      return i;
  return -1;
}

void ets_timer_disarm(ETSTimer *t) {
  int i = timer_index(t);
  if (i >= 0) {
    timers[i] = timers[--ntimers];
    t->timer_next = (ETSTimer *)0xffffffff;
  }
}

void ets_timer_setfn(ETSTimer *t, ETSTimerFunc *fn, void *arg) {
  t->timer_func = fn;
  t->timer_arg = arg;
}

static void timer_arm_ns(ETSTimer *t, uint64_t after, int repeat) {
  int i = timer_index(t);
  if (i < 0) {
    if (ntimers == (int)(sizeof timers / sizeof timers[0])) {
      host_note("too many armed timers; timer ignored");
      return;
    }
    i = ntimers++;
  }
  timers[i] = (struct armed){t, now_ns + after, repeat ? after : 0};
  t->timer_next = NULL;
  t->timer_period = repeat ? (uint32_t)(after / 1000) : 0;
  t->timer_expire = (uint32_t)((now_ns + after) / 1000);
}

void ets_timer_arm_new(ETSTimer *t, uint32_t time, bool repeat, bool ms) {
  timer_arm_ns(t, (uint64_t)time * (ms ? 1000000ull : 1000ull), repeat);
}

void ets_timer_arm(ETSTimer *t, uint32_t ms, bool repeat) { ets_timer_arm_new(t, ms, repeat, 1); }

static int next_timer(void) {
  int best = -1;
  for (int i = 0; i < ntimers; i++)
    if (best < 0 || timers[i].expire < timers[best].expire)
      best = i;
  return best;
}

/* ---- interrupts ----------------------------------------------------------------------------- */
struct isr {
  ets_isr_t fn;
  void *arg;
};
static struct isr isrs[32];
static uint32_t isr_enabled;

void ets_isr_attach(int i, ets_isr_t fn, void *arg) {
  if (i >= 0 && i < 32)
    isrs[i] = (struct isr){fn, arg};
}
void ets_isr_mask(uint32 mask) { isr_enabled &= ~mask; }

/* Interrupts are level-triggered and do not nest: one raised while an ISR runs, while interrupts
 * are locked or while it is masked is looked at again (regs.c re-checks the condition) when that
 * ends. */
static void isr_recheck(void) {
  if (rechecking)
    return;
  rechecking = 1;
  for (int round = 0; isr_pending && !in_isr && !intr_locked && round < 64; round++) {
    uint32_t p = isr_pending & isr_enabled;
    if (!p)
      break;
    for (int i = 0; i < 32; i++)
      if (p & (1u << i)) {
        isr_pending &= ~(1u << i);
        host_isr_unmasked(i);
      }
  }
  rechecking = 0;
}

void ets_isr_unmask(uint32 mask) {
  isr_enabled |= mask;
  isr_pending |= mask;
  isr_recheck();
}
void ets_intr_lock(void) { intr_locked++; }
void ets_intr_unlock(void) {
  if (intr_locked > 0 && --intr_locked == 0)
    isr_recheck();
}

/* regs.c raises an interrupt: it runs now, or later as above. */
int host_isr_raise(int inum) {
  if (!(isr_enabled & (1u << inum)) || !isrs[inum].fn || intr_locked || in_isr) {
    isr_pending |= 1u << inum;
    return 0;
  }
  in_isr = 1;
  isrs[inum].fn(isrs[inum].arg);
  in_isr = 0;
  isr_pending |= 1u << inum;  /* still asserted? */
  isr_recheck();
  return 1;
}

/* ---- restart, sleep, boot ------------------------------------------------------------------- */
void host_request_restart(int cause, int reason) {
  if (!restart_pending) {
    restart_pending = 1;
    restart_cause = cause;
    restart_reason = reason;
  }
}

void host_request_sleep(uint64_t us, int option) {
  sleep_pending = 1;
  sleep_us = us;
  sleep_option = option;
}

static void pending_events(void) {
  if (restart_pending)
    host_reset(restart_cause, restart_reason);
  if (sleep_pending)
    host_deep_sleep(sleep_us, sleep_option);
}

static init_done_cb_t init_done;
void system_init_done_cb(init_done_cb_t cb) { init_done = cb; }

extern void user_pre_init(void);
extern void user_init(void);
extern int host_pt_registered(void);

/* The SDK's start: user_pre_init registers the partition table (no table: the SDK stops),
 * user_init, then the init-done callback, which is where NodeMCU starts Lua. */
static void host_boot(void) {
  backstop_init();
  task_begin();
  user_pre_init();
  if (!host_pt_registered()) {
    task_end();
    host_note("no partition table registered: the SDK stops here");
    halted = 1;
    return;
  }
  user_init();
  extern void host_wifi_boot(void);
  host_wifi_boot();
  task_end();
  pending_events();
  if (init_done) {
    task_begin();
    init_done();
    task_end();
  }
}

/* ---- the loop ------------------------------------------------------------------------------- */
static int run_one(void) {
  host_hw_deliver_due();
  pending_events();
  if (halted)
    return 0;
  int i = next_timer();
  if (i >= 0 && timers[i].expire <= now_ns) {
    struct armed a = timers[i];
    if (a.period)
      timers[i].expire = a.expire + a.period;
    else {
      timers[i] = timers[--ntimers];
      a.t->timer_next = (ETSTimer *)0xffffffff;
    }
    task_begin();
    if (a.t->timer_func)
      a.t->timer_func(a.t->timer_arg);
    task_end();
    return 1;
  }
  for (int p = USER_TASK_PRIO_MAX - 1; p >= 0; p--) {
    struct taskq *t = &tq[p];
    if (t->count) {
      os_event_t ev = t->q[t->head];
      t->head = (t->head + 1) % t->len;
      t->count--;
      task_begin();
      t->fn(&ev);
      task_end();
      return 1;
    }
  }
  return 0;
}

static int work_pending(void) {
  if (halted)
    return 0;
  for (int p = 0; p < USER_TASK_PRIO_MAX; p++)
    if (tq[p].count)
      return 1;
  return restart_pending || sleep_pending;
}

uint64_t host_next_due_ns(void) {
  if (work_pending())
    return now_ns;
  uint64_t next = host_hw_next_ns();
  int i = halted ? -1 : next_timer();
  if (i >= 0 && timers[i].expire < next)
    next = timers[i].expire < now_ns ? now_ns : timers[i].expire;
  return next;
}

extern int host_pipe_mode(void);

int host_run_until(uint64_t until_ns) {
  static int booted;
  limit_ns = until_ns;
  pause_allowed = host_pipe_mode();
  if (!booted) {
    booted = 1;
    host_boot();
  }
  for (;;) {
    if (run_one()) {
      if (now_ns >= limit_ns)
        return host_next_due_ns() > now_ns;
      continue;
    }
    uint64_t next = host_next_due_ns();
    if (next <= limit_ns) {
      if (next > now_ns)
        now_ns = next;
      continue;
    }
    if (now_ns < limit_ns && limit_ns != UINT64_MAX)
      now_ns = limit_ns;
    return 1;
  }
}
