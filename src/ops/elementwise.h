// elementwise: small fused passes over flat arrays (products for gates, residual adds).
#pragma once

#include <algorithm>
#include <cstddef>

#include "util/threads.h"

namespace spectral {

// out = a ⊙ b
template <typename T>
void mul_forward(T* out, const T* a, const T* b, size_t n);
// da += dout ⊙ b ; db += dout ⊙ a   (either may be null)
template <typename T>
void mul_backward(T* da, T* db, const T* dout, const T* a, const T* b, size_t n);
// acc += x
template <typename T>
void add_inplace(T* acc, const T* x, size_t n);
// x = 0, over the threads for large n (a backward's buffers are tens of MB per step: one thread
// zeroing them leaves the others waiting)
template <typename T>
void zero_fill(T* x, size_t n);

// dst[c] += Σ_n term(n, c) for c in [0, C): the column sums of a weight's or bias's gradient. Bands
// of 64 columns go to the threads once N·C >= kMinParallelWork, each summing its columns over every
// row in the rows' order, so the result does not depend on the number of threads.
template <typename T, typename Term>
void add_column_sums(T* dst, int N, int C, Term term) {
  constexpr int kBand = 64;
  const int bands = (C + kBand - 1) / kBand;
#pragma omp parallel for schedule(static) if ((long)N * C >= kMinParallelWork && bands > 1)
  for (int b = 0; b < bands; b++) {
    const int c0 = b * kBand, c1 = std::min(C, c0 + kBand);
    T acc[kBand] = {};
    for (int n = 0; n < N; n++) {
#pragma omp simd
      for (int c = c0; c < c1; c++) acc[c - c0] += term(n, c);
    }
    for (int c = c0; c < c1; c++) dst[c] += acc[c - c0];
  }
}

}  // namespace spectral
