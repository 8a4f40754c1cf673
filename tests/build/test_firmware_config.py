"""Module selection, LFS and SSL written into a build copy's headers, checked against the tree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.build.firmware_config import (
    NodeMCUOptions,
    available_modules,
    check_lfs_fits,
    config_header,
    enabled_modules,
    modules_header,
    parse_lfs_size,
    parse_modules,
)
from nodemcu_pipeline.errors import UsageError

MODULES_H = """#ifndef __USER_MODULES_H__
#define LUA_USE_MODULES_ADC
//#define LUA_USE_MODULES_ADS1115
#define LUA_USE_MODULES_FILE
//#define LUA_USE_MODULES_ENDUSER_SETUP // USE_DNS in dhcpserver.h needs to be enabled
#define LUA_USE_MODULES_GPIO\r
#endif
"""
CONFIG_H = """//#define LUA_NUMBER_INTEGRAL
//#define LUA_FLASH_STORE                   0x10000
//#define CLIENT_SSL_ENABLE
#ifndef LUA_FLASH_STORE
#  define LUA_FLASH_STORE                 0x0
#endif
"""


def test_valid_names_come_from_the_header() -> None:
    assert available_modules(MODULES_H) == ["adc", "ads1115", "enduser_setup", "file", "gpio"]
    assert enabled_modules(MODULES_H) == ["adc", "file", "gpio"]


def test_selection_enables_exactly_the_chosen_modules_and_keeps_the_rest_of_each_line() -> None:
    text = modules_header(MODULES_H, ("ads1115", "enduser_setup", "gpio"))
    assert enabled_modules(text) == ["ads1115", "enduser_setup", "gpio"]
    assert "#define LUA_USE_MODULES_ENDUSER_SETUP // USE_DNS" in text
    assert "#define LUA_USE_MODULES_GPIO\r\n" in text  # line endings kept


def test_unknown_module_lists_the_valid_names() -> None:
    with pytest.raises(UsageError) as err:
        parse_modules("file,wifi6", MODULES_H)
    assert "wifi6" in err.value.line() and "adc,ads1115,enduser_setup,file,gpio" in err.value.line()


@given(st.sets(st.sampled_from(["adc", "ads1115", "enduser_setup", "file", "gpio"]), min_size=1))
def test_any_selection_round_trips(chosen: set[str]) -> None:
    picked = parse_modules(",".join(sorted(chosen)), MODULES_H)
    assert picked is not None
    assert enabled_modules(modules_header(MODULES_H, picked)) == sorted(chosen)


def test_lfs_ssl_and_integer_go_into_user_config() -> None:
    text = config_header(CONFIG_H, NodeMCUOptions(lfs_size=0x20000, ssl=True, integer=True))
    assert "#define LUA_FLASH_STORE 0x20000\n" in text
    assert "#define CLIENT_SSL_ENABLE\n" in text
    assert "#define LUA_NUMBER_INTEGRAL\n" in text
    assert "#  define LUA_FLASH_STORE                 0x0" in text  # the fallback stays
    off = config_header(text, NodeMCUOptions(lfs_size=0, ssl=False, integer=False))
    assert "//#define LUA_FLASH_STORE" in off and "//#define CLIENT_SSL_ENABLE" in off


@pytest.mark.parametrize(
    "text,size", [("64K", 0x10000), ("0x20000", 0x20000), ("131072", 131072), ("1M", 1 << 20)]
)
def test_lfs_sizes(text: str, size: int) -> None:
    assert parse_lfs_size(text) == size


@pytest.mark.parametrize("text", ["5000", "-4K", "lots", "1.5M"])
def test_lfs_size_not_in_sectors(text: str) -> None:
    with pytest.raises(UsageError, match="4 KB sectors"):
        parse_lfs_size(text)


def test_lfs_must_fit_after_the_firmware() -> None:
    check_lfs_fits(0x40000, 0x10000 + 425984, 1 << 20, "1MB")
    with pytest.raises(UsageError, match="does not fit a 1MB flash"):
        check_lfs_fits(0x90000, 0x10000 + 425984, 1 << 20, "1MB")
