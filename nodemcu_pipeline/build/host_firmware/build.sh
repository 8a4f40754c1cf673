#!/bin/sh
# Build nodemcu-host from a NodeMCU tree: build.sh TREE OUT [--sdk SDK] [--build DIR] [--lua 51|53]
#   [--irom0-end 0x402xxxxx] [-j N]
# SDK: the ESP8266 NONOS SDK zip or directory; by default the one the tree's own build fetched
# (TREE/sdk/esp_iot_sdk_v*/ or TREE/cache/*.zip).
set -e
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: build.sh TREE OUT [--sdk SDK] [--build DIR] [--lua 51|53] [--irom0-end ADDR] [-j N]" >&2; exit 2; }
tree=$1; out=$2; shift 2
sdk=; build=; lua=51; irom=; jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
  case $1 in
    --sdk) sdk=$2; shift 2;;
    --build) build=$2; shift 2;;
    --lua) lua=$2; shift 2;;
    --irom0-end) irom=$2; shift 2;;
    -j) jobs=$2; shift 2;;
    *) echo "error: unknown option $1" >&2; exit 2;;
  esac
done
if [ -z "$sdk" ]; then
  for d in "$tree"/sdk/esp_iot_sdk_v*; do [ -d "$d/include" ] && sdk=$d; done
  [ -n "$sdk" ] || for z in "$tree"/cache/*.zip; do [ -f "$z" ] && sdk=$z; done
fi
[ -n "$sdk" ] || { echo "error: no ESP8266 SDK found in $tree. Give --sdk the SDK zip or directory" >&2; exit 1; }
[ -n "$build" ] || build=$(dirname "$out")/nodemcu-host-build
python3 "$here/hostify.py" --tree "$tree" --sdk "$sdk" --build "$build" --lua "$lua"
make -s -f "$here/host.mk" BUILD="$build" OUT="$out" LUA="$lua" ${irom:+IROM0_END=$irom} -j"$jobs"
