// fft_online: the causal convolution of ops/fft_conv computed online, one position at a time, for
// incremental generation, exactly (to float rounding) and at an amortized O(C·log² T) per position
// instead of the O(C·T) of fft_conv_step's direct sum over the whole history:
//   y[t,c] = Σ_{i=0..t} k[c,t−i] · u[i,c] + D[c] · u[t,c]
// Every pair (input i, output t ≥ i) is counted exactly once, in one of two ways. Positions fall in
// blocks of L0 (the base block); level j has blocks of L_j = L0·2^j.
//   - Same base block (⌊i/L0⌋ = ⌊t/L0⌋): summed directly when t is stepped (at most L0 taps).
//   - Different base blocks: let Q = ⌊t/L0⌋ and P = ⌊i/L0⌋ < Q, and j the highest bit in which P and
//     Q differ (P has 0 there, Q has 1; above it they agree). With q = ⌊t/L_j⌋·L_j (an odd multiple
//     of L_j), i lies in [q − L_j, q) and t in [q, q + L_j): the pair belongs to the square "inputs
//     [q − L_j, q) → outputs [q, q + L_j)". Conversely every pair in that square has j as its
//     highest differing block bit, so the squares (one for each odd multiple q of each L_j) tile the
//     pairs in different base blocks without overlap. The square of q is computed once, when input
//     q − 1 arrives (its inputs are then complete and none of its outputs has been asked for yet):
//     one FFT of length 2·L_j per channel over the block's inputs, a product with the spectrum of
//     taps 0..2·L_j−1, the inverse FFT, and its outputs are added to the pending outputs of
//     positions q..q+L_j−1 (lags t − i span 1..2·L_j−1, so the circular product of length 2·L_j
//     never wraps onto the outputs kept).
// Level j computes one square per 2·L_j positions, O(C·L_j·log L_j) each: O(C·log L_j) per position
// amortized, summed over the log(T/L0) levels O(C·log² T); the direct part costs O(C·L0).
// The naive reference is fft_conv_step (ops/fft_conv): the whole history summed directly.
#pragma once

#include <complex>
#include <cstddef>
#include <memory>
#include <vector>

namespace spectral {

// Level count for max_len positions: the squares of level j start at q = L_j, so only levels with
// L_j < max_len have outputs in range. 0 when L0 >= max_len (every pair is then in the base block).
int fft_online_levels(int max_len, int L0);

// What every stream shares, made from the kernel taps k (C, kstride) for up to max_len positions
// with base block L0 >= 1: kt (min(L0, max_len), C), taps 0..L0−1 transposed for the direct sums;
// and, per level j (made when first needed, see fft_online_make_levels), the spectra of taps
// 0..2·L_j−1 (zero from kstride on), C rows of 2·L_j/2+1 bins scaled by 1/(2·L_j).
template <typename T>
struct FftOnlineTaps {
  struct Free {
    void operator()(void* p) const;
  };
  int L0 = 0, max_len = 0, C = 0;
  std::vector<T> kt;
  std::vector<std::unique_ptr<std::complex<T>, Free>> spectra;  // one per level made
  int levels_made() const { return int(spectra.size()); }
};

// Starts taps for a new kernel (or a new sequence, whose weights may have changed): kt made, no level.
template <typename T>
void fft_online_begin(FftOnlineTaps<T>& taps, const T* k, int kstride, int C, int max_len, int L0);
// Makes the spectra of levels levels_made()..levels−1 (levels <= fft_online_levels). Not thread-safe:
// call it before steps that run concurrently.
template <typename T>
void fft_online_make_levels(FftOnlineTaps<T>& taps, const T* k, int kstride, int levels);
// The levels a step at pos needs made: the square computed after input pos (if pos + 1 is a
// multiple of L0) is of level v, the 2-adic valuation of (pos + 1)/L0.
int fft_online_levels_for_step(int pos, int max_len, int L0);
// The levels a prefill of n positions needs made.
int fft_online_levels_for_prefill(int n, int max_len, int L0);

// One position: writes u (C) into row pos of u_cache (max_len, C), then
// y (C) = pending row pos + the direct sum over pos's base block + D·u; then, if pos + 1 completes a
// base block, adds the square of q = pos + 1 to pending rows q.. (pending (max_len, C), zero when the
// sequence began). Positions come in order 0, 1, 2, ... . taps: fft_online_levels_for_step(pos) made.
template <typename T>
void fft_online_step(T* y, T* u_cache, T* pending, const T* u, const FftOnlineTaps<T>& taps, const T* D, int pos,
                     int C);
// The state after positions 0..n−1 from their inputs alone: given u_cache rows 0..n−1 (and pending
// zero), adds to pending rows n.. what steps 0..n−1 would have added to them (the squares of every
// q <= n whose outputs reach n or beyond, in the order the steps add them). taps: levels_for_prefill.
template <typename T>
void fft_online_prefill(T* pending, const T* u_cache, const FftOnlineTaps<T>& taps, int n, int C);

}  // namespace spectral
