// embedding: token embedding plus optional learned absolute positions.
#pragma once

#include <cstdint>

namespace spectral {

// out (B,T,C) = wte[tokens[b,t]] + wpe[pos0 + t]   (wpe (Tmax,C) may be null: no position embedding)
template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const T* wte, const T* wpe, int B, int Tn, int C,
                       int pos0 = 0);

// dwte[token] += dout; dwpe[pos0 + t] += dout (when dwpe is non-null).
template <typename T>
void embedding_backward(T* dwte, T* dwpe, const T* dout, const int32_t* tokens, int B, int Tn, int C,
                        int pos0 = 0);

}  // namespace spectral
