# Compile a hostified NodeMCU tree (hostify.py output in $(BUILD)/src) and this host layer into
# one static 32-bit program. Called by build.sh; BUILD and OUT are required.

HERE  := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
B     := $(abspath $(BUILD))
S     := $(B)/src
APP   := $(S)/app
OBJ   := $(B)/obj
# CCACHE: the build container passes its ccache (the same cache as the firmware build's).
CC    := $(CCACHE) gcc -m32
LUA   ?= 51

# Modules that need what the host does not have (the network stack, the radio's monitor modes, or peripherals
# driven with cycle-exact timing). Every other enabled module is compiled from the tree; pipe is
# always in (lua.c and node.c use it, as on the chip).
NOT_ON_HOST := wifi_monitor net mqtt tls http websocket coap enduser_setup sntp mdns wps \
               net_ping u8g2 ucg ws2812 ws2812_effects ws2801 apa102 tm1829 pcm perf gdbstub \
               softuart rtctime rtcfifo
ENABLED  := $(shell cat $(B)/modules.txt)
SELECTED := $(sort pipe $(filter-out $(NOT_ON_HOST),$(ENABLED)))
SKIPPED  := $(filter $(NOT_ON_HOST),$(ENABLED))
MOD_EXTRA := $(if $(filter dht,$(SELECTED)),$(APP)/dht/dht.c) \
             $(if $(filter i2c,$(SELECTED)),$(APP)/driver/i2c_master.c) \
             $(if $(filter ow,$(SELECTED)),$(APP)/driver/onewire.c) \
             $(if $(filter sjson,$(SELECTED)),$(APP)/sjson/jsonsl.c) \
             $(if $(filter crypto,$(SELECTED)),$(wildcard $(APP)/crypto/*.c)) \
             $(if $(filter wifi,$(SELECTED)),$(APP)/modules/wifi_common.c $(APP)/modules/wifi_eventmon.c)

ifeq ($(LUA),53)
LUA_DIR := lua53
LUA_SRC := $(filter-out %/lua53/lua.c,$(wildcard $(APP)/lua53/*.c)) $(APP)/lua53/lua.c
else
LUA_DIR := lua
LUA_SRC := $(wildcard $(APP)/lua/*.c)
endif

SRC := $(LUA_SRC) \
       $(APP)/uzlib/uzlib_inflate.c $(APP)/uzlib/crc32.c \
       $(wildcard $(APP)/libc/*.c) \
       $(addprefix $(APP)/platform/,platform.c common.c flash_api.c vfs.c pin_map.c) \
       $(wildcard $(APP)/spiffs/*.c) \
       $(addprefix $(APP)/driver/,input.c uart.c gpio16.c) \
       $(addprefix $(APP)/user/,user_main.c dbg_printf.c) \
       $(APP)/platform/hw_timer.c \
       $(foreach m,$(SELECTED),$(APP)/modules/$(m).c) $(MOD_EXTRA)

HOST_SRC := $(wildcard $(HERE)host/*.c)

# The firmware's include order (root Makefile + app/Makefile): SDK overrides, the SDK, then app.
INCLUDES := -I$(S)/sdk-overrides/include -I$(S)/sdk/include \
            -I$(APP)/libc -I$(APP)/$(LUA_DIR) -I$(APP)/platform -I$(APP) -I$(APP)/include \
            -I$(APP)/spiffs -I$(APP)/uzlib -I$(APP)/dht
DEFINES  := -D_GNU_SOURCE -D_C_TYPES_H_ -DNODEMCU_HOST -DLWIP_OPEN_SRC \
            -DMBEDTLS_USER_CONFIG_FILE='"user_mbedtls.h"' \
            -DESP_INIT_DATA_DEFAULT='"$(S)/sdk/bin/esp_init_data_default_v05.bin"'
CFLAGS   := -std=gnu11 -O2 -g -msse2 -mfpmath=sse -malign-double -funsigned-char -fno-builtin -fno-strict-aliasing -malign-data=abi -fno-pie -fcommon -w \
            $(INCLUDES) $(DEFINES) $(EXTRA_CFLAGS)
# -msse2: IEEE double arithmetic without x87's extra precision, and luaconf.h's portable number
# conversions (without SSE2 it picks a rounding "Pentium trick" the chip does not use).
# -fno-builtin: calls reach the firmware's own libc (floor, pow, strtod, snprintf), as on the chip.
# -funsigned-char: char is unsigned on Xtensa, signed on x86; file.c's read loop compares a char
# with EOF (-1), so with signed chars file.getcontents stops at the first 0xFF byte.
# -malign-double: doubles and 64-bit integers 8-byte aligned in structs, as the Xtensa ABI has them,
# so Lua's TValue is 16 bytes (12 under the i386 ABI) and a table slot, a stack slot, a closure's
# upvalue cost on the host what they cost on the chip. (Nothing here hands the C library a struct
# with such members: flash.c sizes the flash with lseek, not fstat.)
# sjson's directory Makefile compiles with these forced includes
CFLAGS_jsonsl := -include $(APP)/sjson/memcompat.h -include $(APP)/sjson/json_config.h

# IROM0 text end of the matching chip image (user_main.c sizes the IROM0 partition from it); the
# build script passes the image's value when it knows it.
IROM0_END ?= 0x40280000

LDFLAGS := -static -no-pie -Wl,-T,$(HERE)host/host.ld \
           -Wl,--defsym=_irom0_text_start=0x40210000 \
           -Wl,--defsym=_irom0_text_end=$(IROM0_END) -Wl,--defsym=_flash_used_end=$(IROM0_END) \
           -Wl,--wrap=luaL_newstate -Wl,--wrap=platform_rcr_read

objname = $(OBJ)/$(subst /,_,$(patsubst $(S)/%,%,$(patsubst $(HERE)%,%,$(1:.c=.o))))
FW_OBJS   := $(foreach s,$(SRC),$(call objname,$(s)))
HOST_OBJS := $(foreach s,$(HOST_SRC),$(call objname,$(s)))

all: $(OUT)

define compile
$(call objname,$(1)): $(1) $(B)/modules.txt
	@mkdir -p $(OBJ)
	@echo "  CC   $(patsubst $(S)/%,%,$(patsubst $(HERE)%,%,$(1)))"
	@$(CC) $(CFLAGS) $(CFLAGS_$(basename $(notdir $(1)))) -c $(1) -o $$@
endef
$(foreach s,$(SRC) $(HOST_SRC),$(eval $(call compile,$(s))))

comma := ,

# Lua core first: linit.c's library entries must lead the .lua_libs array (_G opens first).
$(OUT): $(FW_OBJS) $(HOST_OBJS) $(HERE)host/host.ld
	@echo "  LD   $@"
	@mkdir -p $(dir $(abspath $(OUT)))
	@$(CC) -o $@.tmp $(FW_OBJS) $(HOST_OBJS) $(LDFLAGS) -lm
	@mv $@.tmp $@
	@echo "nodemcu-host: modules $(subst $(eval) ,$(comma),$(SELECTED))$(if $(SKIPPED), (not on the host: $(subst $(eval) ,$(comma),$(SKIPPED))))"

.PHONY: all
