// embedding: forward/backward.
#include "ops/embedding.h"

namespace spectral {

template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const T* wte, const T* wpe, int B, int Tn, int C,
                       int pos0) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < Tn; t++) {
      T* o = out + ((long)b * Tn + t) * C;
      const T* e = wte + (long)tokens[b * Tn + t] * C;
      if (wpe) {
        const T* p = wpe + (long)(pos0 + t) * C;
        for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
      } else {
        for (int c = 0; c < C; c++) o[c] = e[c];
      }
    }
}

template <typename T>
void embedding_backward(T* dwte, T* dwpe, const T* dout, const int32_t* tokens, int B, int Tn, int C,
                        int pos0) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < Tn; t++) {
      const T* d = dout + ((long)b * Tn + t) * C;
      T* e = dwte + (long)tokens[b * Tn + t] * C;
      for (int c = 0; c < C; c++) e[c] += d[c];
      if (dwpe) {
        T* p = dwpe + (long)(pos0 + t) * C;
        for (int c = 0; c < C; c++) p[c] += d[c];
      }
    }
}

template void embedding_forward<float>(float*, const int32_t*, const float*, const float*, int, int, int, int);
template void embedding_forward<double>(double*, const int32_t*, const double*, const double*, int, int, int,
                                        int);
template void embedding_backward<float>(float*, float*, const float*, const int32_t*, int, int, int, int);
template void embedding_backward<double>(double*, double*, const double*, const int32_t*, int, int, int, int);

}  // namespace spectral
