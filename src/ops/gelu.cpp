// gelu: forward/backward (tanh form).
#include "ops/gelu.h"

#include <cmath>

#include "ops/fast_math.h"

#include "util/threads.h"

namespace spectral {

static constexpr double kGeluScale = 0.7978845608028654;  // sqrt(2/pi)

template <typename T>
static inline T gelu_of(T x) {
  T u = T(kGeluScale) * (x + T(0.044715) * x * x * x);
  return T(0.5) * x * (T(1) + tanh_of(u));
}

// Short rows (incremental generation) run outside any OpenMP region, whose cost even with a false
// if() is several times that of the loop.
template <typename T>
void gelu_forward(T* out, const T* inp, size_t n) {
  if ((long)n < kMinParallelWork) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = gelu_of(inp[i]);
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < (long)n; i++) out[i] = gelu_of(inp[i]);
}

template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, size_t n) {
#pragma omp parallel for simd schedule(static) if((long)n >= kMinParallelWork)
  for (long i = 0; i < (long)n; i++) {
    T x = inp[i];
    T u = T(kGeluScale) * (x + T(0.044715) * x * x * x);
    T th = tanh_of(u);
    T sech2 = T(1) - th * th;
    T du = T(kGeluScale) * (T(1) + T(3 * 0.044715) * x * x);
    dinp[i] += dout[i] * (T(0.5) * (T(1) + th) + T(0.5) * x * sech2 * du);
  }
}

template void gelu_forward<float>(float*, const float*, size_t);
template void gelu_forward<double>(double*, const double*, size_t);
template void gelu_backward<float>(float*, const float*, const float*, size_t);
template void gelu_backward<double>(double*, const double*, const double*, size_t);

}  // namespace spectral
