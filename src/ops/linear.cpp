// linear: forward/backward through gemm.
#include "ops/linear.h"

#include "ops/elementwise.h"
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
  if (dbias) add_column_sums(dbias, N, OC, [dout, OC](int n, int o) { return dout[(long)n * OC + o]; });
}

template void linear_forward<float>(float*, const float*, const float*, const float*, int, int, int);
template void linear_forward<double>(double*, const double*, const double*, const double*, int, int, int);
template void linear_backward<float>(float*, float*, float*, const float*, const float*, const float*, int,
                                     int, int);
template void linear_backward<double>(double*, double*, double*, const double*, const double*,
                                      const double*, int, int, int);

}  // namespace spectral
