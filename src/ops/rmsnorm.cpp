// rmsnorm: forward/backward. Row sums in double for stability.
#include "ops/rmsnorm.h"

#include <cmath>

#include "ops/elementwise.h"
#include "util/threads.h"

namespace spectral {

template <typename T>
static inline void rmsnorm_row(T* o, T* rstd, const T* x, const T* weight, int C) {
  double ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int c = 0; c < C; c++) ss += double(x[c]) * x[c];
  T r = T(1.0 / std::sqrt(ss / C + kRmsNormEps));
  *rstd = r;
  if (weight) {
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
  } else {
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = x[c] * r;
  }
}

// Few rows (incremental generation) run outside any OpenMP region (a region costs about a
// microsecond even when its if() is false).
template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int N, int C) {
  if ((long)N * C < kMinParallelWork) {
    for (int n = 0; n < N; n++) rmsnorm_row(out + (long)n * C, rstd + n, inp + (long)n * C, weight, C);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) rmsnorm_row(out + (long)n * C, rstd + n, inp + (long)n * C, weight, C);
}

template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int N,
                      int C) {
  // y = g x r, r = (mean(x²)+eps)^-1/2 ;  dx = r (g dy) - x r³ mean(g dy · x)
  if (dweight)
    add_column_sums(dweight, N, C, [dout, inp, rstd, C](int n, int c) {
      return dout[(long)n * C + c] * inp[(long)n * C + c] * rstd[n];
    });
#pragma omp parallel for schedule(static) if ((long)N * C >= kMinParallelWork)
  for (int n = 0; n < N; n++) {
    const T* x = inp + (long)n * C;
    const T* dy = dout + (long)n * C;
    T* dx = dinp + (long)n * C;
    T r = rstd[n];
    double dot = 0;
    if (weight) {
#pragma omp simd reduction(+ : dot)
      for (int c = 0; c < C; c++) dot += double(weight[c] * dy[c]) * x[c];
    } else {
#pragma omp simd reduction(+ : dot)
      for (int c = 0; c < C; c++) dot += double(dy[c]) * x[c];
    }
    T k = T(dot / C) * r * r * r;
    if (weight) {
#pragma omp simd
      for (int c = 0; c < C; c++) dx[c] += weight[c] * dy[c] * r - x[c] * k;
    } else {
#pragma omp simd
      for (int c = 0; c < C; c++) dx[c] += dy[c] * r - x[c] * k;
    }
  }
}

template void rmsnorm_forward<float>(float*, float*, const float*, const float*, int, int);
template void rmsnorm_forward<double>(double*, double*, const double*, const double*, int, int);
template void rmsnorm_backward<float>(float*, float*, const float*, const float*, const float*, const float*,
                                      int, int);
template void rmsnorm_backward<double>(double*, double*, const double*, const double*, const double*,
                                       const double*, int, int);

}  // namespace spectral
