// relu_squared: the MLP activation max(x, 0)² (model.activation = "relu2").
#pragma once

#include <cstddef>

namespace spectral {

template <typename T>
void relu_squared_forward(T* out, const T* inp, size_t n);

// dinp += 2·max(inp, 0) ⊙ dout
template <typename T>
void relu_squared_backward(T* dinp, const T* dout, const T* inp, size_t n);

}  // namespace spectral
