// rmsnorm: out = g ⊙ x / sqrt(mean(x²) + eps), eps = 1e-5, per row of C. g may be null (no weight,
// as in the rot mixer's headphase/dynamic θ_0).
#pragma once

namespace spectral {

constexpr double kRmsNormEps = 1e-5;

// out (N,C), rstd (N) saved for backward, inp (N,C), weight (C) or null.
template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int N, int C);

// dinp (N,C) += ..., dweight (C) += ... (when weight is non-null).
template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int N,
                      int C);

}  // namespace spectral
