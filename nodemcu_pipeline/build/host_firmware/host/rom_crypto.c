/*
 * What the chip's ROM and the SDK's crypto library give the crypto module: MD5 and SHA-1 (ROM,
 * on the ROM's context structs from app/include/rom.h) and AES block encryption (the SDK's
 * wpa_supplicant-derived aes_*; contexts come from the heap as there). Straight implementations of
 * RFC 1321, FIPS 180-4 and FIPS 197.
 */
#include "host.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"
#include "rom.h"

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* ---- MD5 ------------------------------------------------------------------------------------ */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
static const uint8_t md5_r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(uint32_t s[4], const uint8_t *p) {
  uint32_t w[16], a = s[0], b = s[1], c = s[2], d = s[3];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
           (uint32_t)p[4 * i + 3] << 24;
  for (int i = 0; i < 64; i++) {
    uint32_t f;
    int g;
    if (i < 16) { f = (b & c) | (~b & d); g = i; }
    else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
    else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
    else { f = c ^ (b | ~d); g = (7 * i) & 15; }
    uint32_t t = d;
    d = c;
    c = b;
    b = b + ROL(a + f + md5_k[i] + w[g], md5_r[i]);
    a = t;
  }
  s[0] += a; s[1] += b; s[2] += c; s[3] += d;
}

void MD5Init(MD5_CTX *c) {
  memset(c, 0, sizeof *c);
  c->state[0] = 0x67452301; c->state[1] = 0xefcdab89; c->state[2] = 0x98badcfe; c->state[3] = 0x10325476;
}

void MD5Update(MD5_CTX *c, const unsigned char *p, unsigned int n) {
  uint32_t have = (c->count[0] >> 3) & 63;
  uint64_t bits = ((uint64_t)c->count[1] << 32 | c->count[0]) + ((uint64_t)n << 3);
  c->count[0] = (uint32_t)bits;
  c->count[1] = (uint32_t)(bits >> 32);
  while (n) {
    uint32_t take = 64 - have < n ? 64 - have : n;
    memcpy(c->buffer + have, p, take);
    have += take; p += take; n -= take;
    if (have == 64) {
      md5_block(c->state, c->buffer);
      have = 0;
    }
  }
}

void MD5Final(unsigned char out[MD5_DIGEST_LENGTH], MD5_CTX *c) {
  uint8_t len[8];
  for (int i = 0; i < 4; i++) {
    len[i] = (uint8_t)(c->count[0] >> (8 * i));
    len[4 + i] = (uint8_t)(c->count[1] >> (8 * i));
  }
  static const uint8_t pad[64] = {0x80};
  uint32_t have = (c->count[0] >> 3) & 63;
  MD5Update(c, pad, have < 56 ? 56 - have : 120 - have);
  MD5Update(c, len, 8);
  for (int i = 0; i < 16; i++)
    out[i] = (uint8_t)(c->state[i / 4] >> (8 * (i % 4)));
}

/* ---- SHA-1 ---------------------------------------------------------------------------------- */
void SHA1Transform(uint32_t s[5], const uint8_t p[64]) {
  uint32_t w[80], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 80; i++)
    w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
    else { f = b ^ c ^ d; k = 0xca62c1d6; }
    uint32_t t = ROL(a, 5) + f + e + k + w[i];
    e = d; d = c; c = ROL(b, 30); b = a; a = t;
  }
  s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e;
}

void SHA1Init(SHA1_CTX *c) {
  memset(c, 0, sizeof *c);
  c->state[0] = 0x67452301; c->state[1] = 0xefcdab89; c->state[2] = 0x98badcfe;
  c->state[3] = 0x10325476; c->state[4] = 0xc3d2e1f0;
}

/* count[0] holds the low 32 bits of the bit count, count[1] the high ones */
void SHA1Update(SHA1_CTX *c, const uint8_t *p, unsigned int n) {
  uint32_t have = (c->count[0] >> 3) & 63;
  uint64_t bits = ((uint64_t)c->count[1] << 32 | c->count[0]) + ((uint64_t)n << 3);
  c->count[0] = (uint32_t)bits;
  c->count[1] = (uint32_t)(bits >> 32);
  while (n) {
    uint32_t take = 64 - have < n ? 64 - have : n;
    memcpy(c->buffer + have, p, take);
    have += take; p += take; n -= take;
    if (have == 64) {
      SHA1Transform(c->state, c->buffer);
      have = 0;
    }
  }
}

void SHA1Final(uint8_t out[SHA1_DIGEST_LENGTH], SHA1_CTX *c) {
  uint8_t len[8];
  for (int i = 0; i < 4; i++) {
    len[i] = (uint8_t)(c->count[1] >> (24 - 8 * i));
    len[4 + i] = (uint8_t)(c->count[0] >> (24 - 8 * i));
  }
  static const uint8_t pad[64] = {0x80};
  uint32_t have = (c->count[0] >> 3) & 63;
  SHA1Update(c, pad, have < 56 ? 56 - have : 120 - have);
  SHA1Update(c, len, 8);
  for (int i = 0; i < 20; i++)
    out[i] = (uint8_t)(c->state[i / 4] >> (24 - 8 * (i % 4)));
}

/* ---- AES ------------------------------------------------------------------------------------ */
static uint8_t sbox[256], inv_sbox[256];

static uint8_t xtime(uint8_t x) { return (uint8_t)((x << 1) ^ ((x & 0x80) ? 0x1b : 0)); }
static uint8_t gmul(uint8_t a, uint8_t b) {
  uint8_t r = 0;
  while (b) {
    if (b & 1)
      r ^= a;
    a = xtime(a);
    b >>= 1;
  }
  return r;
}

static void aes_tables(void) {
  if (sbox[0])
    return;
  /* S-box: multiplicative inverse in GF(2^8), then the affine map */
  for (int i = 0; i < 256; i++) {
    uint8_t inv = 0;
    for (int j = 1; j < 256 && i; j++)
      if (gmul((uint8_t)i, (uint8_t)j) == 1) {
        inv = (uint8_t)j;
        break;
      }
    uint8_t s = inv;
    for (int k = 1; k < 5; k++)
      s ^= (uint8_t)((inv << k) | (inv >> (8 - k)));
    sbox[i] = s ^ 0x63;
  }
  for (int i = 0; i < 256; i++)
    inv_sbox[sbox[i]] = (uint8_t)i;
}

struct aes_ctx {
  int rounds;
  uint8_t rk[240];
};

static void *aes_init(const char *key, size_t len) {
  if (len != 16 && len != 24 && len != 32)
    return NULL;
  aes_tables();
  struct aes_ctx *c = os_malloc(sizeof *c);
  if (!c)
    return NULL;
  int nk = (int)len / 4;
  c->rounds = nk + 6;
  memcpy(c->rk, key, len);
  uint8_t rcon = 1;
  for (int i = nk; i < 4 * (c->rounds + 1); i++) {
    uint8_t t[4];
    memcpy(t, c->rk + 4 * (i - 1), 4);
    if (i % nk == 0) {
      uint8_t u = t[0];
      t[0] = sbox[t[1]] ^ rcon; t[1] = sbox[t[2]]; t[2] = sbox[t[3]]; t[3] = sbox[u];
      rcon = xtime(rcon);
    } else if (nk > 6 && i % nk == 4) {
      for (int k = 0; k < 4; k++)
        t[k] = sbox[t[k]];
    }
    for (int k = 0; k < 4; k++)
      c->rk[4 * i + k] = c->rk[4 * (i - nk) + k] ^ t[k];
  }
  return c;
}

void *aes_encrypt_init(const char *key, size_t len) { return aes_init(key, len); }
void *aes_decrypt_init(const char *key, size_t len) { return aes_init(key, len); }
void aes_encrypt_deinit(void *ctx) { os_free(ctx); }
void aes_decrypt_deinit(void *ctx) { os_free(ctx); }

static void add_key(uint8_t s[16], const uint8_t *k) {
  for (int i = 0; i < 16; i++)
    s[i] ^= k[i];
}

void aes_encrypt(void *ctx, const char *plain, char *crypt) {
  struct aes_ctx *c = ctx;
  uint8_t s[16], t[16];
  memcpy(s, plain, 16);
  add_key(s, c->rk);
  for (int r = 1; r <= c->rounds; r++) {
    for (int i = 0; i < 16; i++)  /* SubBytes + ShiftRows (state column-major) */
      t[i] = sbox[s[(i + 4 * (i % 4)) % 16]];
    if (r < c->rounds)
      for (int col = 0; col < 4; col++) {  /* MixColumns */
        uint8_t *a = t + 4 * col, a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        a[0] = gmul(a0, 2) ^ gmul(a1, 3) ^ a2 ^ a3;
        a[1] = a0 ^ gmul(a1, 2) ^ gmul(a2, 3) ^ a3;
        a[2] = a0 ^ a1 ^ gmul(a2, 2) ^ gmul(a3, 3);
        a[3] = gmul(a0, 3) ^ a1 ^ a2 ^ gmul(a3, 2);
      }
    memcpy(s, t, 16);
    add_key(s, c->rk + 16 * r);
  }
  memcpy(crypt, s, 16);
}

void aes_decrypt(void *ctx, const char *crypt, char *plain) {
  struct aes_ctx *c = ctx;
  uint8_t s[16], t[16];
  memcpy(s, crypt, 16);
  add_key(s, c->rk + 16 * c->rounds);
  for (int r = c->rounds - 1; r >= 0; r--) {
    for (int i = 0; i < 16; i++)  /* InvShiftRows + InvSubBytes */
      t[(i + 4 * (i % 4)) % 16] = inv_sbox[s[i]];
    memcpy(s, t, 16);
    add_key(s, c->rk + 16 * r);
    if (r > 0)
      for (int col = 0; col < 4; col++) {  /* InvMixColumns */
        uint8_t *a = s + 4 * col, a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        a[0] = gmul(a0, 14) ^ gmul(a1, 11) ^ gmul(a2, 13) ^ gmul(a3, 9);
        a[1] = gmul(a0, 9) ^ gmul(a1, 14) ^ gmul(a2, 11) ^ gmul(a3, 13);
        a[2] = gmul(a0, 13) ^ gmul(a1, 9) ^ gmul(a2, 14) ^ gmul(a3, 11);
        a[3] = gmul(a0, 11) ^ gmul(a1, 13) ^ gmul(a2, 9) ^ gmul(a3, 14);
      }
  }
  memcpy(plain, s, 16);
}
