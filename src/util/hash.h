// hash: a 64-bit hash of a block of memory (four independent multiply–xorshift lanes, then mixed),
// to notice that a large array changed without keeping a copy of it. Not cryptographic: two different
// arrays share a hash with probability about 2^-64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace spectral {

inline uint64_t hash_mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

inline uint64_t hash_bytes(const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t lane[4] = {0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull, 0x2545f4914f6cdd1dull};
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32)
    for (int j = 0; j < 4; j++) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * j, 8);
      lane[j] = (lane[j] ^ w) * 0x9e3779b97f4a7c15ull;
      lane[j] ^= lane[j] >> 29;
    }
  uint64_t h = hash_mix(bytes);
  for (; i < bytes; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  for (uint64_t l : lane) h = hash_mix(h ^ hash_mix(l));
  return h;
}

}  // namespace spectral
