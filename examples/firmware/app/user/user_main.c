/* A small bare-metal ESP8266 program with NodeMCU's boot banner.
 *
 * It needs no SDK: the ROM loader copies the IRAM/DRAM segments of 0x00000.bin and jumps to
 * call_user_start; the code in .irom0.text runs in place from flash at 0x10000 once the cache maps it.
 */
#include "rom.h"
#include "user_config.h"
#include "user_version.h"

/* Lua's number type differs between the variants; here the float build keeps three decimals in fixed
 * point, because Debian's xtensa libgcc leaves soft-float to the ROM and this firmware links no ROM
 * floating-point entries. */
#ifdef LUA_NUMBER_INTEGRAL
typedef int lua_Number;
#define NUMBER_SCALE 1
#else
typedef int lua_Number;
#define NUMBER_SCALE 1000
#endif

/* Kept in DRAM (0x00000.bin): ets_printf reads its format byte by byte, which flash-mapped memory
 * does not allow. */
const char node_banner[] =
    "\n" NODE_VERSION "\n"
    "\tbranch: " BUILDINFO_BRANCH "\n"
    "\trelease: " BUILDINFO_RELEASE "\n"
    "\trelease DTS: " BUILDINFO_RELEASE_DTS "\n"
    "\tbuild type: " BUILDINFO_BUILD_TYPE "\n"
    " powered by " LUA_RELEASE " on SDK " SDK_VERSION "\n";

static ICACHE_FLASH_ATTR lua_Number golden_ratio(int steps)
{
    int a = 1, b = 1;
    for (int i = 0; i < steps; i++) {
        int t = a + b;
        a = b;
        b = t;
    }
    return (lua_Number)((b * NUMBER_SCALE) / a);
}

static void print_number(lua_Number n)
{
    if (NUMBER_SCALE == 1)
        ets_printf("> =%d\n", n);
    else
        ets_printf("> =%d.%03d\n", n / NUMBER_SCALE, n - (n / NUMBER_SCALE) * NUMBER_SCALE);
}

void call_user_start(void)
{
    uart_div_modify(0, UART_CLK_FREQ / BIT_RATE_DEFAULT);
    ets_delay_us(1000);
    /* Map flash 0x10000.. at 0x40210000 so .irom0.text can run (same arguments as the SDK's boot). */
    Cache_Read_Enable(0, 0, 1);
    ets_printf("%s", node_banner);
    print_number(golden_ratio(20));
    for (;;) {
        ets_delay_us(1000000);
    }
}
