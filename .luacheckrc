-- luacheck's settings for the Lua this tool runs: on boards (nodemcu_pipeline/board/lua/) and
-- inside the virtual NodeMCU (nodemcu_pipeline/virtual/lua/, nodemcu_pipeline/virtual/modules/lua/).
-- tests/test_lua_files.py runs `luacheck nodemcu_pipeline` with it. NodeMCU runs Lua 5.1.
std = "lua51+nodemcu"
max_line_length = 120

-- NodeMCU's C modules, as globals: the NODEMCU_MODULE names in app/modules/*.c of the pinned
-- release. A firmware has the ones its build selected; code that may lack one checks first.
stds.nodemcu = {
  read_globals = {
    "adc", "ads1115", "adxl345", "am2320", "apa102", "bit", "bloom", "bme280", "bme280_math",
    "bme680", "bmp085", "coap", "color_utils", "cron", "crypto", "dcc", "dht", "encoder",
    "enduser_setup", "file", "gdbstub", "gpio", "gpiopulse", "hdc1080", "hmc5883l", "http", "hx711",
    "i2c", "l3g4200d", "mcp4725", "mdns", "mqtt", "net", "node", "ow", "pcm", "perf", "pipe",
    "pixbuf", "pwm", "pwm2", "rfswitch", "rotary", "rtcfifo", "rtcmem", "rtctime", "si7021",
    "sigma_delta", "sjson", "sntp", "softuart", "somfy", "spi", "struct", "switec", "tcs34725",
    "tls", "tm1829", "tmr", "tsl2561", "u8g2", "uart", "ucg", "websocket", "wiegand", "wifi", "wps",
    "ws2801", "ws2812", "ws2812_effects", "xpt2046",
  },
}

-- The board helpers stay defined between commands as globals (_pl*: names a user's code is
-- unlikely to hold); each file may set only its own.
files["nodemcu_pipeline/board/lua/upload.lua"] = {globals = {"_plU", "_plw", "_plE"}}
files["nodemcu_pipeline/board/lua/sum.lua"] = {globals = {"_plS"}}
files["nodemcu_pipeline/board/lua/download.lua"] = {globals = {"_plD"}}
-- sweep.lua ends an upload's literal-line receiver that a killed host left defined.
files["nodemcu_pipeline/board/lua/sweep.lua"] = {read_globals = {"_plE"}}

-- The virtual NodeMCU's modules define the globals a board's C modules are; each file defines its
-- own (crash.lua adds node.crash, file.lua's dofile.lua replaces the base library's loaders).
for _, name in ipairs({"adc", "bit", "dht", "file", "gpio", "i2c", "mqtt", "net", "node", "ow",
                       "spi", "tmr", "uart", "wifi"}) do
  files["nodemcu_pipeline/virtual/modules/lua/" .. name .. ".lua"] = {globals = {name}}
end
files["nodemcu_pipeline/virtual/modules/lua/crash.lua"] = {globals = {"node.crash"}}
files["nodemcu_pipeline/virtual/modules/lua/dofile.lua"] = {
  globals = {"dofile", "loadfile", "package.loaders"},
}
-- The interpreter's harness replaces what lua.c and NodeMCU's platform provide (print, the
-- protected calls that must rethrow the watchdog) and removes what a board lacks (io, os...).
files["nodemcu_pipeline/virtual/lua/lua_repl.lua"] = {
  globals = {"print", "pcall", "xpcall", "coroutine.resume", "io", "os", "dofile", "loadfile",
             "package.loaders", "package.path", "package.cpath"},
}
