// fft_conv: the causal long convolution at the heart of the `fft` mixer, per channel c:
//   y[b,t,c] = Σ_{s=0..t} k[c,s] · u[b,t−s,c] + D[c] · u[b,t,c]
// computed with FFTW on rows zero-padded to N >= 2T (a linear, not circular, convolution: nothing
// from the future reaches the past). A naive O(T²) direct convolution sits beside it as reference,
// and a one-position step (a direct dot product per channel) for incremental generation.
#pragma once

#include <cstddef>

namespace spectral {

// Shapes: u, y, du, dy (B,T,C) channel-last; k, dk (C, kstride) time-domain kernels of which the
// first T taps are used (kstride >= T); D, dD (C).

// Number of T-typed values fft_conv_forward saves for backward (the spectra of u and of k).
size_t fft_conv_saved_size(int B, int Tn, int C);

// saved: fft_conv_saved_size(B,T,C) values, written here and read by backward; or null (inference:
// nothing kept, each kernel row transformed where it is used, once per sequence of the batch; the
// same arithmetic, so the same y).
// kernel_spectra_ready: saved already holds the spectra of this very k (from an earlier forward
// with the same B, T, C and unchanged taps); they are then not recomputed.
template <typename T>
void fft_conv_forward(T* y, T* saved, const T* u, const T* k, int kstride, const T* D, int B, int Tn, int C,
                      bool kernel_spectra_ready = false);

// du += ∂L/∂u, dk += ∂L/∂k (first T taps), dD += ∂L/∂D. du may be null.
template <typename T>
void fft_conv_backward(T* du, T* dk, T* dD, const T* dy, const T* u, const T* k, int kstride, const T* D,
                       const T* saved, int B, int Tn, int C);

// Reference: same contract, direct summation. circular = true computes the seed's defective
// version (a length-T circular convolution, which leaks the future); tests use it to show that
// the causality check catches a leak.
template <typename T>
void conv_naive_forward(T* y, const T* u, const T* k, int kstride, const T* D, int B, int Tn, int C,
                        bool circular = false);
template <typename T>
void conv_naive_backward(T* du, T* dk, T* dD, const T* dy, const T* u, const T* k, int kstride, const T* D,
                         int B, int Tn, int C);

// One position of incremental generation, summed directly (no transform). The cache u_cache
// (max_len, C) holds u of the positions fed so far, fed in order 0, 1, 2, ...; the taps come
// transposed, kt (>= pos + 1, C) from fft_conv_step_taps, so that the sum over the history reads
// both kt and the cache row by row.
// y (C) = row pos of fft_conv_forward over positions 0..pos, given u (C) of position pos; writes u
// into row pos of u_cache first.
template <typename T>
void fft_conv_step(T* y, T* u_cache, const T* u, const T* kt, const T* D, int pos, int C);
// The step for S independent streams at the same position pos sharing the taps kt: stream i's cache
// at u_cache + i·cache_size (cache_size >= max_len·C); y (S,C), u (S,C). Row i equals fft_conv_step
// on stream i alone.
template <typename T>
void fft_conv_step_batch(T* y, T* u_cache, size_t cache_size, const T* u, const T* kt, const T* D, int pos, int C,
                         int S);
// Rows from..to−1 of kt (len, C): taps from..to−1 of k (C, kstride) transposed (to <= kstride). A
// cache grows kt as positions advance instead of transposing every tap up front.
template <typename T>
void fft_conv_step_taps(T* kt, const T* k, int kstride, int from, int to, int C);

}  // namespace spectral
