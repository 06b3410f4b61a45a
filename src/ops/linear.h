// linear: out = inp · W^T + b through OpenBLAS. Backward accumulates (+=) into every gradient.
#pragma once

namespace spectral {

// out (N,OC) = inp (N,C) · weight (OC,C)^T + bias (OC); bias may be null.
template <typename T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int N, int C, int OC);

// dinp (N,C) += dout · W; dweight (OC,C) += dout^T · inp; dbias (OC) += column sums of dout.
// dinp, dbias may be null (not needed / no bias).
template <typename T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, int N,
                     int C, int OC);

}  // namespace spectral
