// relu_squared: forward/backward of max(x, 0)². Exact in float (no transcendental), so the float
// kernel and the double one of the gradient checks agree to rounding.
#include "ops/relu_squared.h"

#include "util/threads.h"

namespace spectral {

template <typename T>
static inline T relu_squared_of(T x) {
  const T r = x > T(0) ? x : T(0);
  return r * r;
}

// Short rows (incremental generation) run outside any OpenMP region, as in gelu.
template <typename T>
void relu_squared_forward(T* out, const T* inp, size_t n) {
  if ((long)n < kMinParallelWork) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = relu_squared_of(inp[i]);
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < (long)n; i++) out[i] = relu_squared_of(inp[i]);
}

template <typename T>
void relu_squared_backward(T* dinp, const T* dout, const T* inp, size_t n) {
#pragma omp parallel for simd schedule(static) if((long)n >= kMinParallelWork)
  for (long i = 0; i < (long)n; i++) {
    const T r = inp[i] > T(0) ? inp[i] : T(0);
    dinp[i] += T(2) * r * dout[i];
  }
}

template void relu_squared_forward<float>(float*, const float*, size_t);
template void relu_squared_forward<double>(double*, const double*, size_t);
template void relu_squared_backward<float>(float*, const float*, const float*, size_t);
template void relu_squared_backward<double>(double*, const double*, const double*, size_t);

}  // namespace spectral
