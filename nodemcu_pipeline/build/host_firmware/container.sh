#!/bin/sh
# Runs in the build container right after the firmware build, in the same copy with the same
# configuration (BUILD_TYPE, LUA): builds the tree for the host into bin/nodemcu-host.
#
# It never fails the container. A tree the host build cannot take (a module that does not compile
# for the host, a tree older than the host layer knows) is not a failed firmware build: the reason
# goes into bin/nodemcu-host.status and the virtual board keeps its Python model for this image.
#
# bin/nodemcu-host.status: "ok IROM0_END" or "failed: WHY"; bin/nodemcu-host.log: the whole log.
here=$(cd "$(dirname "$0")" && pwd)
cd "${1:-/opt/nodemcu-firmware}" || exit 0
status=bin/nodemcu-host.status
log=bin/nodemcu-host.log
rm -f bin/nodemcu-host "$status" "$log"
fail() { echo "failed: $*" > "$status"; echo "host build: $*"; exit 0; }

# The chip image's _irom0_text_end (the end marker of its partition table): user_main.c sizes the
# IROM0 partition from it, so LFS and SPIFFS land where the chip image puts them.
elf=app/.output/eagle/debug/image/eagle.app.v6.out
irom=$(xtensa-lx106-elf-nm "$elf" 2>/dev/null | sed -n 's/^\([0-9a-fA-F]*\) . _irom0_text_end$/0x\1/p')
[ -n "$irom" ] || fail "no _irom0_text_end in $elf"
command -v gcc >/dev/null 2>&1 || fail "the build image has no gcc for the host"

# What the firmware build did with BUILD_TYPE (docker/build adds -DLUA_NUMBER_INTEGRAL).
extra=
if [ "$BUILD_TYPE" = integer ] && ! grep -qs '^#define LUA_NUMBER_INTEGRAL' app/include/user_config.h; then
    extra=-DLUA_NUMBER_INTEGRAL
fi
ccache=$(command -v ccache || true)
if EXTRA_CFLAGS="$extra" CCACHE="$ccache" sh "$here/build.sh" . bin/nodemcu-host \
        --build "$here/build" --irom0-end "$irom" --lua "${LUA:-51}" -j "$(nproc 2>/dev/null || echo 2)" \
        > "$log" 2>&1; then
    { echo "ok $irom"; tail -n 1 "$log"; } > "$status"
    echo "host build: $(tail -n 1 "$log")"
else
    rm -f bin/nodemcu-host
    why=$(grep -m 1 -E 'error|Error|No such file' "$log" | cut -c 1-300)
    fail "${why:-$(tail -n 1 "$log" | cut -c 1-300)}"
fi
exit 0
