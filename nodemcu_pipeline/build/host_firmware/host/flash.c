/*
 * The SPI flash: a file the board shares (the virtual chip's flash), with NOR semantics — erase
 * sets a 4 KB sector to 0xFF, programming can only clear bits (the new bytes are ANDed in).
 *
 * The whole file is also mapped read-only at 0x40200000, where the ESP8266's cache maps flash, so
 * code that reads flash through pointers works as on the chip: the Reboot Config Records at
 * _irom0_text_start (flash 0x10000), and LFS, whose images hold absolute pointers into that
 * window. A write through such a pointer faults, as it does on the chip.
 *
 * Costs on the board clock follow a typical 25Q-series part (as the Python board's flashchip.py):
 * sector erase 45 ms, page program 0.7 ms, reads ~4 MB/s.
 */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h>
#include "spi_flash.h"

#define SECTOR 4096u
#define PAGE 256u
#define ERASE_NS 45000000ull
#define PROGRAM_NS 700000ull
#define READ_NS_PER_BYTE 250ull

static uint8_t *rw;
static uint32_t size;

SpiFlashChip host_flashchip;
SpiFlashChip *flashchip = &host_flashchip;

static uint8_t jedec_capacity(uint32_t bytes) {
  uint8_t c = 0;
  while ((1u << c) < bytes)
    c++;
  return c;
}

int host_flash_open(const char *path, int create_kb) {
  int fd = open(path, O_RDWR | (create_kb ? O_CREAT : 0), 0644);
  if (fd < 0) {
    fprintf(stderr, "error: cannot open flash file %s: %s\n", path, strerror(errno));
    return -1;
  }
  /* lseek, not fstat: struct stat has 64-bit members, laid out differently under -malign-double
   * (host.mk) than in the C library. */
  off_t bytes = lseek(fd, 0, SEEK_END);
  if (bytes == 0 && create_kb) {
    static uint8_t blank[65536];
    memset(blank, 0xFF, sizeof blank);
    for (int i = 0; i < create_kb / 64; i++)
      if (write(fd, blank, sizeof blank) != sizeof blank) {
        fprintf(stderr, "error: cannot write %s\n", path);
        return -1;
      }
    bytes = lseek(fd, 0, SEEK_END);
  }
  size = bytes < 0 ? 0 : (uint32_t)bytes;
  if (size < 256 * 1024 || size > 16 * 1024 * 1024 || (size & (size - 1))) {
    fprintf(stderr, "error: flash file %s is %u bytes; it must be 256 KB..16 MB, a power of two\n",
            path, size);
    return -1;
  }
  void *m = mmap((void *)HOST_FLASH_MAPPED, size, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
  if (m != (void *)HOST_FLASH_MAPPED) {
    fprintf(stderr, "error: cannot map the flash at 0x%08x: %s\n", HOST_FLASH_MAPPED, strerror(errno));
    return -1;
  }
  rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (rw == MAP_FAILED) {
    fprintf(stderr, "error: cannot map the flash file: %s\n", strerror(errno));
    return -1;
  }
  close(fd);
  /* IOSWAP and friends are DPORT registers written through pointers: give them a page. */
  mmap((void *)0x3FF00000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
       -1, 0);
  host_flashchip = (SpiFlashChip){
      .deviceId = 0x4000EFu | ((uint32_t)jedec_capacity(size) << 16),
      .chip_size = size,
      .block_size = 65536,
      .sector_size = SECTOR,
      .page_size = PAGE,
      .status_mask = 0xFFFF,
  };
  return 0;
}

uint32_t host_flash_size(void) { return size; }

uint32 spi_flash_get_id(void) { return host_flashchip.deviceId; }

SpiFlashOpResult spi_flash_read(uint32 src, uint32 *dst, uint32 n) {
  if (!dst)
    return SPI_FLASH_RESULT_ERR;
  /* addresses beyond the chip wrap around, as on SPI NOR parts */
  for (uint32 done = 0; done < n;) {
    uint32 at = (src + done) % size;
    uint32 chunk = size - at < n - done ? size - at : n - done;
    memcpy((uint8_t *)dst + done, rw + at, chunk);
    done += chunk;
  }
  host_spend_ns(n * READ_NS_PER_BYTE);
  return SPI_FLASH_RESULT_OK;
}

SpiFlashOpResult spi_flash_write(uint32 dst, uint32 *src, uint32 n) {
  if (!src || dst >= size || n > size - dst)
    return SPI_FLASH_RESULT_ERR;
  const uint8_t *s = (const uint8_t *)src;
  for (uint32 i = 0; i < n; i++)
    rw[dst + i] &= s[i];
  uint32 pages = (dst % PAGE + n + PAGE - 1) / PAGE;
  host_spend_ns(pages * PROGRAM_NS);
  return SPI_FLASH_RESULT_OK;
}

SpiFlashOpResult spi_flash_erase_sector(uint16 sec) {
  uint32 at = (uint32)sec * SECTOR;
  if (at >= size)
    return SPI_FLASH_RESULT_ERR;
  memset(rw + at, 0xFF, SECTOR);
  /* The SDK's flash routines keep the watchdog fed (a first-boot format erases for ~40 s). */
  host_spend_ns(ERASE_NS);
  host_wdt_feed();
  return SPI_FLASH_RESULT_OK;
}

bool spi_flash_erase_protect_enable(void) { return true; }
bool spi_flash_erase_protect_disable(void) { return true; }
void spi_flash_set_read_func(user_spi_flash_read read) { (void)read; }

/* ROM versions */
uint8_t SPIRead(uint32_t src, uint32_t *dst, uint32_t n) { return spi_flash_read(src, dst, n); }
uint8_t SPIWrite(uint32_t dst, const uint32_t *src, uint32_t n) {
  return spi_flash_write(dst, (uint32 *)src, n);
}
uint8_t SPIEraseSector(uint32_t sector) { return spi_flash_erase_sector((uint16)sector); }
void Cache_Read_Enable(uint32_t b0, uint32_t b1, uint32_t v) { (void)b0; (void)b1; (void)v; }
void Cache_Read_Disable(void) {}

/* ---- a stand-in for flashing an image ------------------------------------------------------- */
/* This build's default partition table (user_main.c's rompt, the RCR page at flash 0x10000),
 * collected by the host linker script. */
extern const uint8_t _host_ptable_start[], _host_ptable_end[];

void host_flash_provision(void) {
  uint8_t code;
  switch (size) {
    case 256 * 1024: code = 0x10; break;
    case 512 * 1024: code = 0x00; break;
    case 1024 * 1024: code = 0x20; break;
    case 2048 * 1024: code = 0x30; break;
    case 4096 * 1024: code = 0x40; break;
    case 8192 * 1024: code = 0x80; break;
    default: code = 0x90; break;
  }
  /* 0x00000: an image header as the ROM and the SDK read it (magic, 1 segment, DIO, 40 MHz, size).
   * Written as a flasher would, before the chip runs: no board time. */
  uint8_t head[16] = {0xE9, 0x01, 0x02, code};
  memset(rw, 0xFF, SECTOR);
  memcpy(rw, head, sizeof head);
  uint32 n = (uint32)(_host_ptable_end - _host_ptable_start);
  memset(rw + 0x10000, 0xFF, SECTOR);
  memcpy(rw + 0x10000, _host_ptable_start, n);
}
