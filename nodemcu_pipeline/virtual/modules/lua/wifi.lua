-- NodeMCU's wifi module on the virtual board; its Python half is ../wifi.py.
local api, lib = ...
local argerror, checkint = lib.argerror, lib.checkint
wifi = {NULLMODE = 0, STATION = 1, SOFTAP = 2, STATIONAP = 3, PHYMODE_B = 1, PHYMODE_G = 2,
        PHYMODE_N = 3, NONE_SLEEP = 0, LIGHT_SLEEP = 1, MODEM_SLEEP = 2, OPEN = 0, WEP = 1,
        WPA_PSK = 2, WPA2_PSK = 3, WPA_WPA2_PSK = 4, STA_IDLE = 0, STA_CONNECTING = 1,
        STA_WRONGPWD = 2, STA_APNOTFOUND = 3, STA_FAIL = 4, STA_GOTIP = 5, COUNTRY_AUTO = 0,
        COUNTRY_MANUAL = 1}
local mode, phy = 1, 3
function wifi.setmode(m, _save)
  m = checkint(1, 1, m)
  if m ~= 0 and m ~= 1 and m ~= 2 and m ~= 3 then argerror(1, 1, "Invalid mode") end
  mode = m
  api.setmode(m)
  return m
end
function wifi.getmode() return mode end
function wifi.getdefaultmode() return mode end
function wifi.getchannel() return api.channel() end
function wifi.setphymode(p) phy = checkint(1, 1, p) return phy end
function wifi.getphymode() return phy end
function wifi.sleeptype(t) return t or 0 end
function wifi.nullmodesleep() return true end
function wifi.setmaxtxpower(p)
  p = checkint(1, 1, p)
  if not (p > 0 and p < 83) then argerror(1, 1, "tx power out of range (0->82)") end
end
wifi.sta = {}
function wifi.sta.config(cfg)
  if type(cfg) ~= "table" then error("wrong arg type", 2) end
  local ssid, pwd = cfg.ssid or "", cfg.pwd or ""
  if type(ssid) ~= "string" then error("ssid: must be string", 2) end
  if #ssid > 32 then argerror(1, 1, "ssid: length:0-32") end
  if #pwd > 64 then argerror(1, 1, "pwd: length:0-64") end
  local auto = cfg.auto
  if auto == nil then auto = true end
  api.sta_config(ssid, pwd, auto and true or false)
  return true
end
function wifi.sta.connect() api.connect() end
function wifi.sta.disconnect() api.disconnect() end
function wifi.sta.autoconnect(a)
  a = checkint(1, 1, a)
  if a ~= 0 and a ~= 1 then argerror(1, 1, "0 or 1") end
end
function wifi.sta.status() return api.status() end
function wifi.sta.getip() return api.sta_ip() end
function wifi.sta.getbroadcast() local ip = api.sta_ip() if ip then return (ip:gsub("%d+$", "255")) end end
function wifi.sta.getmac() return api.mac(0) end
function wifi.sta.setmac() return true end
function wifi.sta.getrssi() return api.rssi() end
function wifi.sta.gethostname() return api.hostname() end
function wifi.sta.sethostname(h)
  h = lib.checkstr(1, 1, h)
  if #h < 1 or #h > 32 or h:find("[^%w%-]") or h:find("^%-") or h:find("%-$") then
    argerror(1, 1, "Invalid hostname")
  end
  return api.sethostname(h)
end
function wifi.sta.getconfig(as_table)
  local ssid, pwd = api.sta_saved()
  if as_table then return {ssid = ssid, pwd = pwd, bssid_set = 0, bssid = "ff:ff:ff:ff:ff:ff"} end
  return ssid, pwd, 0, "ff:ff:ff:ff:ff:ff"
end
wifi.sta.getdefaultconfig = wifi.sta.getconfig
function wifi.sta.clearconfig() api.sta_config("", "", false) return true end
function wifi.sta.getap(a, b, c)
  if mode == 2 then error("Can't list ap in SOFTAP mode", 2) end
  local fmt, cb = 0, nil
  for _, v in ipairs({a, b, c}) do
    if type(v) == "number" then fmt = v elseif type(v) == "function" then cb = v end
  end
  if not cb then error("wrong arg type", 2) end
  api.scan(fmt, cb)
end
function wifi.sta.setaplimit(n)
  n = checkint(1, 1, n)
  if n < 1 or n > 5 then argerror(1, 1, "Valid range: 1-5") end
  return true
end
function wifi.sta.getapindex() return 1 end
function wifi.sta.changeap(n)
  n = checkint(1, 1, n)
  if n < 1 or n > 5 then argerror(1, 1, "Valid range: 1-5") end
  return true
end
function wifi.sta.getapinfo() return {qty = 0} end
wifi.ap = {dhcp = {}}
local ap_cfg = {}
function wifi.ap.config(cfg)
  if type(cfg) ~= "table" then error("wrong arg type", 2) end
  local ssid, pwd = cfg.ssid, cfg.pwd
  if type(ssid) ~= "string" or #ssid < 1 or #ssid > 32 then argerror(1, 1, "ssid: length:1-32") end
  if pwd ~= nil and (#pwd < 8 or #pwd > 64) then argerror(1, 1, "pwd: length:0 or 8-64") end
  ap_cfg = {ssid = ssid, pwd = pwd or ""}
  return true
end
function wifi.ap.getconfig(as_table)
  if as_table then return {ssid = ap_cfg.ssid, pwd = ap_cfg.pwd} end
  return ap_cfg.ssid, ap_cfg.pwd
end
wifi.ap.getdefaultconfig = wifi.ap.getconfig
function wifi.ap.getip()
  if mode < 2 then return nil end
  return "192.168.4.1", "255.255.255.0", "192.168.4.1"
end
function wifi.ap.getbroadcast() if mode >= 2 then return "192.168.4.255" end end
function wifi.ap.getmac() return api.mac(1) end
function wifi.ap.setmac() return true end
function wifi.ap.getclient() return {} end
function wifi.ap.deauth() return true end
function wifi.ap.dhcp.config() return "192.168.4.2", "192.168.4.5" end
function wifi.ap.dhcp.start() return true end
function wifi.ap.dhcp.stop() return true end
wifi.eventmon = {STA_CONNECTED = 0, STA_DISCONNECTED = 1, STA_AUTHMODE_CHANGE = 2,
                 STA_GOT_IP = 3, STA_DHCP_TIMEOUT = 4, AP_STACONNECTED = 5,
                 AP_STADISCONNECTED = 6, AP_PROBEREQRECVED = 7, WIFI_MODE_CHANGED = 8}
wifi.eventmon.reason = {UNSPECIFIED = 1, AUTH_EXPIRE = 2, AUTH_LEAVE = 3, ASSOC_EXPIRE = 4,
  ASSOC_TOOMANY = 5, NOT_AUTHED = 6, NOT_ASSOCED = 7, ASSOC_LEAVE = 8, ASSOC_NOT_AUTHED = 9,
  DISASSOC_PWRCAP_BAD = 10, DISASSOC_SUPCHAN_BAD = 11, IE_INVALID = 13, MIC_FAILURE = 14,
  ["4WAY_HANDSHAKE_TIMEOUT"] = 15, GROUP_KEY_UPDATE_TIMEOUT = 16, IE_IN_4WAY_DIFFERS = 17,
  GROUP_CIPHER_INVALID = 18, PAIRWISE_CIPHER_INVALID = 19, AKMP_INVALID = 20,
  UNSUPP_RSN_IE_VERSION = 21, INVALID_RSN_IE_CAP = 22, ["802_1X_AUTH_FAILED"] = 23,
  CIPHER_SUITE_REJECTED = 24, BEACON_TIMEOUT = 200, NO_AP_FOUND = 201, AUTH_FAIL = 202,
  ASSOC_FAIL = 203, HANDSHAKE_TIMEOUT = 204}
local handlers = {}
function wifi.eventmon.register(event, f)
  event = checkint(1, 1, event)
  if event < 0 or event > 8 then argerror(1, 1, "valid wifi events:0-8") end
  if f ~= nil and type(f) ~= "function" then argerror(1, 2, "function expected") end
  handlers[event] = f
end
function wifi.eventmon.unregister(event) handlers[checkint(1, 1, event)] = nil end
-- The C side raises an event with its info table.
return function(event, info)
  local f = handlers[event]
  if f then return f(info) end
end
