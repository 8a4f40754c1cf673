/*
 * The SDK heap (pvPortMalloc and friends, behind os_malloc and — through sdk-overrides/stdlib.h —
 * every malloc in the firmware): a first-fit allocator over one contiguous arena, free blocks kept
 * in address order and merged with their neighbours, an 8-byte block header and 8-byte alignment,
 * the scheme of the FreeRTOS-derived heap in the NONOS SDK. Lua objects, SPIFFS buffers, module
 * state all come out of it, so fragmentation and "not enough memory" happen where they would.
 *
 * Size: the chip's heap after boot is what the image leaves free minus the SDK's own use (Wi-Fi,
 * lwIP), which the host does not run. So the arena starts large, the firmware boots in it, and
 * when Lua asks for its init string (the end of boot, before init.lua) the free space above the
 * boot allocations is cut so that exactly `heap_after_boot` bytes are free (host_heap_seal).
 */
#include "host.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem.h"

/* The arena sits where the chip's heap is, ending at the top of data RAM (0x3FFFC000), so Lua
 * prints addresses like a chip's ("table: 0x3fff1a28"). */
#define ARENA_MAX (160 * 1024)
#define ARENA_END 0x3FFFC000u
#define HDR 8u
#define MIN_BLOCK 16u
#define USED 0x80000000u

typedef struct blk {
  struct blk *next;   /* free list link (free blocks only) */
  uint32_t size;      /* bytes including this header; USED bit when allocated */
} blk;

static uint8_t *arena;
static blk head;      /* free list sentinel, address ordered */
static uint8_t *arena_end;
static uint32_t free_bytes;

void host_heap_init(void) {
  arena = mmap((void *)(ARENA_END - ARENA_MAX), ARENA_MAX, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (arena != (uint8_t *)(ARENA_END - ARENA_MAX)) {
    fprintf(stderr, "error: cannot map the heap at 0x%08x\n", ARENA_END - ARENA_MAX);
    _exit(1);
  }
  blk *b = (blk *)arena;
  b->size = ARENA_MAX;
  b->next = NULL;
  head.next = b;
  head.size = 0;
  arena_end = arena + ARENA_MAX;
  free_bytes = ARENA_MAX;
}

static void insert_free(blk *b) {
  blk *p = &head;
  while (p->next && (uint8_t *)p->next < (uint8_t *)b)
    p = p->next;
  /* merge with the following block */
  if (p->next && (uint8_t *)b + b->size == (uint8_t *)p->next) {
    b->size += p->next->size;
    b->next = p->next->next;
  } else {
    b->next = p->next;
  }
  /* merge with the preceding block */
  if (p != &head && (uint8_t *)p + p->size == (uint8_t *)b) {
    p->size += b->size;
    p->next = b->next;
  } else {
    p->next = b;
  }
}

static void *heap_alloc(size_t n) {
  if (n == 0 || n > ARENA_MAX)
    return NULL;
  uint32_t want = ((uint32_t)n + HDR + 7u) & ~7u;
  if (want < MIN_BLOCK)
    want = MIN_BLOCK;
  for (blk *p = &head, *b = head.next; b; p = b, b = b->next) {
    if (b->size < want)
      continue;
    if (b->size - want >= MIN_BLOCK) {
      blk *rest = (blk *)((uint8_t *)b + want);
      rest->size = b->size - want;
      rest->next = b->next;
      p->next = rest;
      b->size = want;
    } else {
      p->next = b->next;
    }
    free_bytes -= b->size;
    b->size |= USED;
    b->next = NULL;
    return (uint8_t *)b + HDR;
  }
  return NULL;
}

static int ours(void *ptr) {
  return (uint8_t *)ptr >= arena + HDR && (uint8_t *)ptr < arena_end;
}

static void heap_free(void *ptr) {
  if (!ptr)
    return;
  if (!ours(ptr)) {
    host_note("free() of a pointer outside the heap: %p", ptr);
    return;
  }
  blk *b = (blk *)((uint8_t *)ptr - HDR);
  if (!(b->size & USED)) {
    host_note("double free at %p", ptr);
    return;
  }
  b->size &= ~USED;
  free_bytes += b->size;
  insert_free(b);
}

static void *heap_realloc(void *ptr, size_t n) {
  if (!ptr)
    return heap_alloc(n);
  if (n == 0) {
    heap_free(ptr);
    return NULL;
  }
  blk *b = (blk *)((uint8_t *)ptr - HDR);
  uint32_t have = (b->size & ~USED) - HDR;
  if (n <= have)
    return ptr;
  void *q = heap_alloc(n);
  if (!q)
    return NULL;
  memcpy(q, ptr, have);
  heap_free(ptr);
  return q;
}

void *pvPortMalloc(size_t sz, const char *file, unsigned line, bool iram) {
  (void)file; (void)line; (void)iram;
  return heap_alloc(sz);
}
void *pvPortZalloc(size_t sz, const char *file, unsigned line) {
  (void)file; (void)line;
  void *p = heap_alloc(sz);
  if (p)
    memset(p, 0, sz);
  return p;
}
void *pvPortZallocIram(size_t sz, const char *file, unsigned line) { return pvPortZalloc(sz, file, line); }
void *pvPortCalloc(size_t count, size_t sz, const char *file, unsigned line) {
  if (sz && count > ARENA_MAX / sz)
    return NULL;
  return pvPortZalloc(count * sz, file, line);
}
void *pvPortCallocIram(size_t count, size_t sz, const char *file, unsigned line) {
  return pvPortCalloc(count, sz, file, line);
}
void *pvPortRealloc(void *p, size_t n, const char *file, unsigned line) {
  (void)file; (void)line;
  return heap_realloc(p, n);
}
void vPortFree(void *p, const char *file, unsigned line) {
  (void)file; (void)line;
  heap_free(p);
}

/* The SDK's libc-style entry points (the firmware's libc calls these on the chip). */
void *host_fw_malloc(size_t n) { return heap_alloc(n); }
void host_fw_free(void *p) { heap_free(p); }
char *host_fw_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = heap_alloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

uint32_t host_heap_free(void) { return free_bytes; }

uint32_t host_heap_largest(void) {
  uint32_t m = 0;
  for (blk *b = head.next; b; b = b->next)
    if (b->size > m)
      m = b->size;
  return m > HDR ? m - HDR : 0;
}

void host_heap_seal(uint32_t wanted) {
  blk *top = NULL;
  for (blk *b = head.next; b; b = b->next)
    top = b;
  if (!top || (uint8_t *)top + top->size != arena_end) {
    host_note("heap: no free space at the top of the arena; not sealed");
    return;
  }
  if (wanted >= free_bytes) {
    host_note("heap: only %u bytes free after boot, fewer than the %u asked for", free_bytes, wanted);
    return;
  }
  uint32_t cut = free_bytes - wanted;
  if (top->size < cut + MIN_BLOCK) {
    host_note("heap: boot fragments leave %u bytes free; cannot seal at %u", free_bytes, wanted);
    cut = top->size > MIN_BLOCK ? top->size - MIN_BLOCK : 0;
  }
  cut &= ~7u;
  if (host_opt.verbose)
    host_note("heap: boot used %u bytes; %u free after boot", ARENA_MAX - free_bytes, wanted);
  top->size -= cut;
  free_bytes -= cut;
  arena_end -= cut;
}
