// gelu: the tanh approximation, 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))).
#pragma once

#include <cstddef>

namespace spectral {

template <typename T>
void gelu_forward(T* out, const T* inp, size_t n);

// dinp += gelu'(inp) ⊙ dout
template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, size_t n);

}  // namespace spectral
