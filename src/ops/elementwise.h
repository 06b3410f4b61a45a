// elementwise: small fused passes over flat arrays (products for gates, residual adds).
#pragma once

#include <cstddef>

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

}  // namespace spectral
