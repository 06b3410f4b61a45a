// dropout: the mask is a 32-bit integer hash of the element index mixed with the seed (the
// "lowbias32" finalizer: two multiply-xorshift rounds), compared with p scaled to 2^32. Integer
// arithmetic only, so the loops vectorize and the mask is the same on every machine.
#include "ops/dropout.h"

#include <cmath>

#include "util/threads.h"

namespace spectral {

namespace {

inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

inline uint32_t seed32(uint64_t seed) { return mix32(uint32_t(seed) ^ mix32(uint32_t(seed >> 32) + 0x9e3779b9u)); }

// elements with hash < threshold are dropped: P(drop) = threshold / 2^32 = p (to 2^-32)
inline uint32_t drop_threshold(float p) {
  const double t = std::ldexp(double(p), 32);
  return t >= 4294967295.0 ? 0xffffffffu : uint32_t(t);
}

inline bool keeps(uint32_t s, uint32_t threshold, size_t i) {
  return mix32(uint32_t(i) * 0x9e3779b1u + s) >= threshold;
}

}  // namespace

bool dropout_keeps(uint64_t seed, size_t i, float p) { return keeps(seed32(seed), drop_threshold(p), i); }

template <typename T>
void dropout_forward(T* out, const T* inp, uint64_t seed, float p, size_t n, size_t first) {
  const uint32_t s = seed32(seed), threshold = drop_threshold(p);
  const T scale = T(1) / (T(1) - T(p));
#pragma omp parallel for simd schedule(static) if((long)n >= kMinParallelWork)
  for (long i = 0; i < (long)n; i++) out[i] = keeps(s, threshold, first + (size_t)i) ? inp[i] * scale : T(0);
}

template <typename T>
void dropout_backward(T* dinp, const T* dout, uint64_t seed, float p, size_t n, size_t first) {
  const uint32_t s = seed32(seed), threshold = drop_threshold(p);
  const T scale = T(1) / (T(1) - T(p));
#pragma omp parallel for simd schedule(static) if((long)n >= kMinParallelWork)
  for (long i = 0; i < (long)n; i++) dinp[i] += keeps(s, threshold, first + (size_t)i) ? dout[i] * scale : T(0);
}

uint64_t dropout_seed(uint64_t run_seed, uint64_t step, uint64_t site) {
  // splitmix64 over the three words
  auto splitmix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  return splitmix(splitmix(splitmix(run_seed) ^ step) ^ site);
}

template void dropout_forward<float>(float*, const float*, uint64_t, float, size_t, size_t);
template void dropout_forward<double>(double*, const double*, uint64_t, float, size_t, size_t);
template void dropout_backward<float>(float*, const float*, uint64_t, float, size_t, size_t);
template void dropout_backward<double>(double*, const double*, uint64_t, float, size_t, size_t);

}  // namespace spectral
