/*
 * The SDK's Wi-Fi API with a radio that finds no access point (the first step; the board's
 * simulated APs come later). The tree's wifi module runs on it unchanged:
 *
 * - Mode, station and soft-AP configuration, auto-connect and the PHY mode are kept like the SDK
 *   keeps them: the *_current calls change only this run, the others also save to flash, in the
 *   system-parameter partition (our own record there, "HWIF"), and a restart loads them again.
 * - A station with a saved SSID connects at boot when auto-connect is on (as the SDK does);
 *   every attempt ends ~3 s later in STATION_NO_AP_FOUND with a STAMODE_DISCONNECTED event,
 *   reason 201 (REASON_NO_AP_FOUND), as the Python board's model does. A scan finds nothing
 *   (the SDK then calls back with no list, which the module ignores).
 * - MACs: the station's is the board's (--mac), the soft AP's has the locally-administered bit.
 *   The soft AP answers at 192.168.4.1; no station joins it.
 */
#include "host.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ets_sys.h"
#include "lwip/ip_addr.h"
#include "osapi.h"
#include "spi_flash.h"
#include "user_interface.h"

#define SCAN_MS 2000
#define NOAP_MS 3000
#define MAGIC 0x46495748u /* "HWIF" */

static struct saved {
  uint32_t magic;
  uint8_t opmode, auto_connect, phy, pad;
  struct station_config sta;
  struct softap_config ap;
} saved, cur;
static int loaded;
static char hostname[33];
static uint8 status = STATION_IDLE;
static wifi_event_handler_cb_t event_cb;
static ETSTimer connect_timer, scan_timer;
static scan_done_cb_t scan_cb;
static wifi_country_t country = {.cc = "CN", .schan = 1, .nchan = 13, .policy = WIFI_COUNTRY_POLICY_AUTO};
static uint8 sleep_type = NONE_SLEEP_T;

static uint32_t param_addr(void) {
  partition_item_t item;
  if (system_partition_get_item(SYSTEM_PARTITION_SYSTEM_PARAMETER, &item))
    return item.addr;
  return host_flash_size() - 3 * 4096;
}

static void defaults(struct saved *s) {
  memset(s, 0, sizeof *s);
  s->magic = MAGIC;
  s->opmode = STATION_MODE;
  s->auto_connect = 1;
  s->phy = PHY_MODE_11N;
  uint8_t mac[6];
  wifi_get_macaddr(SOFTAP_IF, mac);
  s->ap.ssid_len = (uint8)snprintf((char *)s->ap.ssid, sizeof s->ap.ssid, "ESP_%02X%02X%02X",
                                   mac[3], mac[4], mac[5]);
  s->ap.channel = 1;
  s->ap.authmode = AUTH_OPEN;
  s->ap.max_connection = 4;
  s->ap.beacon_interval = 100;
}

static void load(void) {
  if (loaded)
    return;
  loaded = 1;
  memcpy(&saved, (const void *)(HOST_FLASH_MAPPED + param_addr()), sizeof saved);
  if (saved.magic != MAGIC)
    defaults(&saved);
  cur = saved;
  uint8_t mac[6];
  wifi_get_macaddr(STATION_IF, mac);
  snprintf(hostname, sizeof hostname, "ESP_%02X%02X%02X", mac[3], mac[4], mac[5]);
}

static void save(void) {
  uint32_t addr = param_addr();
  spi_flash_erase_sector((uint16)(addr / 4096));
  spi_flash_write(addr, (uint32 *)&saved, (sizeof saved + 3) & ~3u);
}

static void event(uint32 kind, const Event_Info_u *info) {
  if (!event_cb)
    return;
  System_Event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.event = kind;
  if (info)
    ev.event_info = *info;
  event_cb(&ev);
}

/* ---- station -------------------------------------------------------------------------------- */
static void connect_failed(void *arg) {
  (void)arg;
  if (status != STATION_CONNECTING)
    return;
  status = STATION_NO_AP_FOUND;
  Event_Info_u info;
  memset(&info, 0, sizeof info);
  size_t n = strnlen((const char *)cur.sta.ssid, sizeof cur.sta.ssid);
  memcpy(info.disconnected.ssid, cur.sta.ssid, n);
  info.disconnected.ssid_len = (uint8)n;
  info.disconnected.reason = REASON_NO_AP_FOUND;
  event(EVENT_STAMODE_DISCONNECTED, &info);
}

bool wifi_station_connect(void) {
  load();
  if (!(cur.opmode & STATION_MODE))
    return false;
  if (!cur.sta.ssid[0] || status == STATION_CONNECTING)
    return true;
  status = STATION_CONNECTING;
  os_timer_disarm(&connect_timer);
  os_timer_setfn(&connect_timer, connect_failed, NULL);
  os_timer_arm(&connect_timer, NOAP_MS, 0);
  return true;
}

bool wifi_station_disconnect(void) {
  os_timer_disarm(&connect_timer);
  status = STATION_IDLE;
  return true;
}

/* The SDK's start: connect with the saved station configuration. */
void host_wifi_boot(void) {
  load();
  if (cur.auto_connect && (cur.opmode & STATION_MODE) && cur.sta.ssid[0])
    wifi_station_connect();
}

static bool get_sta(struct station_config *c, const struct saved *s) {
  load();
  *c = s->sta;
  return true;
}
bool wifi_station_get_config(struct station_config *c) { return get_sta(c, &cur); }
bool wifi_station_get_config_default(struct station_config *c) { return get_sta(c, &saved); }
bool wifi_station_set_config_current(struct station_config *c) {
  load();
  wifi_station_disconnect();
  cur.sta = *c;
  return true;
}
bool wifi_station_set_config(struct station_config *c) {
  wifi_station_set_config_current(c);
  saved.sta = *c;
  save();
  return true;
}
uint8 wifi_station_get_connect_status(void) { return status; }
uint8 wifi_station_get_auto_connect(void) {
  load();
  return cur.auto_connect;
}
bool wifi_station_set_auto_connect(uint8 set) {
  load();
  cur.auto_connect = saved.auto_connect = set != 0;
  save();
  return true;
}
bool wifi_station_set_reconnect_policy(bool set) { (void)set; return true; }
sint8 wifi_station_get_rssi(void) { return 31; /* the SDK's "not connected" */ }
uint8 wifi_station_get_current_ap_id(void) { return 0; }
bool wifi_station_ap_change(uint8 id) { return id == 0; }
bool wifi_station_ap_number_set(uint8 n) { return n >= 1 && n <= 5; }
uint8 wifi_station_get_ap_info(struct station_config config[]) {
  load();
  config[0] = cur.sta;
  return 1;
}
bool wifi_station_dhcpc_start(void) { return true; }
bool wifi_station_dhcpc_stop(void) { return true; }
enum dhcp_status wifi_station_dhcpc_status(void) { return DHCP_STARTED; }
char *wifi_station_get_hostname(void) {
  load();
  return hostname;
}
bool wifi_station_set_hostname(char *name) {
  load();
  if (!name || strlen(name) > 32)
    return false;
  strcpy(hostname, name);
  return true;
}

static void scan_done(void *arg) {
  (void)arg;
  if (scan_cb)
    scan_cb(NULL, OK);  /* nothing in range */
}
bool wifi_station_scan(struct scan_config *config, scan_done_cb_t cb) {
  (void)config;
  load();
  if (!(cur.opmode & STATION_MODE))
    return false;
  scan_cb = cb;
  os_timer_disarm(&scan_timer);
  os_timer_setfn(&scan_timer, scan_done, NULL);
  os_timer_arm(&scan_timer, SCAN_MS, 0);
  return true;
}

/* ---- mode ----------------------------------------------------------------------------------- */
uint8 wifi_get_opmode(void) {
  load();
  return cur.opmode;
}
uint8 wifi_get_opmode_default(void) {
  load();
  return saved.opmode;
}
bool wifi_set_opmode_current(uint8 mode) {
  load();
  if (mode > STATIONAP_MODE)
    return false;
  uint8 old = cur.opmode;
  cur.opmode = mode;
  if (!(mode & STATION_MODE))
    wifi_station_disconnect();
  if (old != mode) {
    Event_Info_u info;
    memset(&info, 0, sizeof info);
    info.opmode_changed.old_opmode = old;
    info.opmode_changed.new_opmode = mode;
    event(EVENT_OPMODE_CHANGED, &info);
  }
  return true;
}
bool wifi_set_opmode(uint8 mode) {
  if (!wifi_set_opmode_current(mode))
    return false;
  saved.opmode = mode;
  save();
  return true;
}
void wifi_set_event_handler_cb(wifi_event_handler_cb_t cb) { event_cb = cb; }

/* ---- soft AP -------------------------------------------------------------------------------- */
bool wifi_softap_get_config(struct softap_config *c) {
  load();
  *c = cur.ap;
  return true;
}
bool wifi_softap_get_config_default(struct softap_config *c) {
  load();
  *c = saved.ap;
  return true;
}
bool wifi_softap_set_config_current(struct softap_config *c) {
  load();
  cur.ap = *c;
  return true;
}
bool wifi_softap_set_config(struct softap_config *c) {
  wifi_softap_set_config_current(c);
  saved.ap = *c;
  save();
  return true;
}
struct station_info *wifi_softap_get_station_info(void) { return NULL; }
void wifi_softap_free_station_info(void) {}
uint8 wifi_softap_get_station_num(void) { return 0; }
bool wifi_softap_dhcps_start(void) { return true; }
bool wifi_softap_dhcps_stop(void) { return true; }
bool wifi_softap_set_dhcps_lease(struct dhcps_lease *lease) { (void)lease; return true; }
bool wifi_softap_get_dhcps_lease(struct dhcps_lease *lease) { (void)lease; return false; }
enum dhcp_status wifi_softap_dhcps_status(void) { return DHCP_STARTED; }
bool wifi_softap_deauth(uint8 mac[6]) { (void)mac; return true; }

/* ---- addresses ------------------------------------------------------------------------------ */
static struct ip_info ap_ip = {{0x0104A8C0}, {0x00FFFFFF}, {0x0104A8C0}}; /* 192.168.4.1/24 */
bool wifi_get_ip_info(uint8 if_index, struct ip_info *info) {
  load();
  memset(info, 0, sizeof *info);
  if (if_index == SOFTAP_IF && (cur.opmode & SOFTAP_MODE))
    *info = ap_ip;
  return if_index <= SOFTAP_IF;
}
bool wifi_set_ip_info(uint8 if_index, struct ip_info *info) {
  if (if_index == SOFTAP_IF)
    ap_ip = *info;
  return if_index <= SOFTAP_IF;
}
bool wifi_set_macaddr(uint8 if_index, uint8 *mac) {
  if (if_index != STATION_IF)
    return if_index == SOFTAP_IF;
  memcpy(host_opt.mac, mac, 6);
  return true;
}
uint8 wifi_get_channel(void) { return 1; }
bool wifi_set_channel(uint8 ch) { return ch >= 1 && ch <= 13; }
bool wifi_get_country(wifi_country_t *c) {
  *c = country;
  return true;
}
bool wifi_set_country(wifi_country_t *c) {
  country = *c;
  return true;
}
enum phy_mode wifi_get_phy_mode(void) {
  load();
  return (enum phy_mode)cur.phy;
}
bool wifi_set_phy_mode(enum phy_mode mode) {
  load();
  cur.phy = saved.phy = (uint8_t)mode;
  return true;
}
bool wifi_set_sleep_type(enum sleep_type t) {
  sleep_type = (uint8)t;
  return true;
}
enum sleep_type wifi_get_sleep_type(void) { return (enum sleep_type)sleep_type; }
void system_phy_set_max_tpw(uint8 max_tpw) { (void)max_tpw; }
void wifi_fpm_auto_sleep_set_in_null_mode(uint8 req) { (void)req; }
uint8 get_fpm_auto_sleep_flag(void) { return 0; }
void wifi_fpm_open(void) {}
void wifi_fpm_close(void) {}
void wifi_fpm_do_wakeup(void) {}
sint8 wifi_fpm_do_sleep(uint32 us) { (void)us; return 0; }
void wifi_fpm_set_sleep_type(enum sleep_type t) { (void)t; }
enum sleep_type wifi_fpm_get_sleep_type(void) { return NONE_SLEEP_T; }

/* ROM: "aa:bb:cc:dd:ee:ff" -> 6 bytes */
void ets_str2macaddr(uint8_t *dst, const char *str) {
  unsigned m[6] = {0};
  sscanf(str, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
  for (int i = 0; i < 6; i++)
    dst[i] = (uint8_t)m[i];
}

/* lwIP's dotted-quad parser (the host runs no lwIP yet): the address in network byte order. */
u32_t ipaddr_addr(const char *cp) {
  unsigned a, b, c, d;
  char tail;
  if (sscanf(cp, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
    return IPADDR_NONE;
  return (u32_t)(a | b << 8 | c << 16 | d << 24);
}
