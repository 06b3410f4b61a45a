// linear: forward/backward through gemm.
#include "ops/linear.h"

#include <algorithm>

#include "ops/gemm.h"
#include "util/threads.h"

namespace spectral {

template <typename T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int N, int C, int OC) {
  if (N == 1) {  // one position (incremental generation)
    gemv(out, weight, inp, bias, OC, C);
    return;
  }
  if (bias) {
#pragma omp parallel for schedule(static) if ((long)N * OC >= kMinParallelWork)
    for (int n = 0; n < N; n++)
      for (int o = 0; o < OC; o++) out[(long)n * OC + o] = bias[o];
  }
  gemm(false, true, N, OC, C, T(1), inp, C, weight, C, bias ? T(1) : T(0), out, OC);
}

template <typename T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, int N,
                     int C, int OC) {
  if (dinp) gemm(false, false, N, C, OC, T(1), dout, OC, weight, C, T(1), dinp, C);
  gemm(true, false, OC, C, N, T(1), dout, OC, inp, C, T(1), dweight, C);
  if (dbias) {
    // column sums: each thread sums a band of columns over every row, in the rows' order, so the
    // result does not depend on the number of threads
    constexpr int kBand = 64;
    const int bands = (OC + kBand - 1) / kBand;
#pragma omp parallel for schedule(static) if ((long)N * OC >= kMinParallelWork && bands > 1)
    for (int b = 0; b < bands; b++) {
      const int o0 = b * kBand, o1 = std::min(OC, o0 + kBand);
      T acc[kBand] = {};
      for (int n = 0; n < N; n++) {
        const T* row = dout + (long)n * OC;
#pragma omp simd
        for (int o = o0; o < o1; o++) acc[o - o0] += row[o];
      }
      for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
    }
  }
}

template void linear_forward<float>(float*, const float*, const float*, const float*, int, int, int);
template void linear_forward<double>(double*, const double*, const double*, const double*, int, int, int);
template void linear_backward<float>(float*, float*, float*, const float*, const float*, const float*, int,
                                     int, int);
template void linear_backward<double>(double*, double*, double*, const double*, const double*,
                                      const double*, int, int, int);

}  // namespace spectral
