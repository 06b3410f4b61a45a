// elementwise: forward/backward of products and in-place adds.
#include "ops/elementwise.h"

#include "util/threads.h"

namespace spectral {

// Below kMinParallelWork the loops run outside any OpenMP region: even a region whose if() is false
// costs about a microsecond, which incremental generation (rows of d values) would pay per call.

template <typename T>
void mul_forward(T* out, const T* a, const T* b, size_t n) {
  if ((long)n < kMinParallelWork) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
    return;
  }
#pragma omp parallel for schedule(static) if((long)n >= kMinParallelWork)
  for (long i = 0; i < (long)n; i++) out[i] = a[i] * b[i];
}

template <typename T>
void mul_backward(T* da, T* db, const T* dout, const T* a, const T* b, size_t n) {
#pragma omp parallel for schedule(static) if((long)n >= kMinParallelWork)
  for (long i = 0; i < (long)n; i++) {
    if (da) da[i] += dout[i] * b[i];
    if (db) db[i] += dout[i] * a[i];
  }
}

template <typename T>
void add_inplace(T* acc, const T* x, size_t n) {
  if ((long)n < kMinParallelWork) {
    for (size_t i = 0; i < n; i++) acc[i] += x[i];
    return;
  }
#pragma omp parallel for schedule(static) if((long)n >= kMinParallelWork)
  for (long i = 0; i < (long)n; i++) acc[i] += x[i];
}

template <typename T>
void zero_fill(T* x, size_t n) {
  constexpr size_t kChunk = size_t(1) << 16;  // elements per task: whole pages, no false sharing
  const long chunks = long((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if ((long)n >= 8 * kMinParallelWork)
  for (long c = 0; c < chunks; c++) {
    const size_t lo = size_t(c) * kChunk;
    std::fill(x + lo, x + std::min(n, lo + kChunk), T(0));
  }
}

template void mul_forward<float>(float*, const float*, const float*, size_t);
template void mul_forward<double>(double*, const double*, const double*, size_t);
template void mul_backward<float>(float*, float*, const float*, const float*, const float*, size_t);
template void mul_backward<double>(double*, double*, const double*, const double*, const double*, size_t);
template void add_inplace<float>(float*, const float*, size_t);
template void add_inplace<double>(double*, const double*, size_t);
template void zero_fill<float>(float*, size_t);
template void zero_fill<double>(double*, size_t);

}  // namespace spectral
