// fft_conv: FFT causal convolution (forward/backward), the direct reference and the one-position step.
// Rows are handled in tiles of kTile channels so that gathering (B,T,C) into channel-major
// transform rows reads contiguous memory; each thread owns its tiles and its scratch.
#include "ops/fft_conv.h"

#include <algorithm>
#include <cassert>
#include <complex>
#include <cstring>
#include <vector>

#include "ops/fft_plan.h"
#include "util/threads.h"

namespace spectral {

static constexpr int kTile = 16;

size_t fft_conv_saved_size(int B, int Tn, int C) {
  int N = fft_padded_length(Tn);
  // complex spectra of u (B*C rows) and of k (C rows), 2 reals per bin
  return size_t(2) * fft_complex_stride(N) * (size_t(B) * C + C);
}

// kTile rows of the transform length, one per thread
template <typename T>
static FftRowsScratch<T>& scratch(int N) {
  thread_local FftRowsScratch<T> s;
  s.ensure(kTile, N);
  return s;
}

// One kernel row's spectrum: kf = FFT(k_row[0..T) zero padded to N), through the real row buffer row.
template <typename T>
static void kernel_row_spectrum(std::complex<T>* kf, T* row, const T* k_row, int Tn, int N) {
  std::memcpy(row, k_row, sizeof(T) * Tn);
  std::fill(row + Tn, row + fft_real_stride(N), T(0));
  real_fft<T>(N).forward(row, kf);
}

// Kernel spectra: Kf[c] = FFT(k[c, 0..T) zero padded to N).
template <typename T>
static void kernel_spectra(std::complex<T>* Kf, const T* k, int kstride, int Tn, int C, int N) {
  const int cs = fft_complex_stride(N);
#pragma omp parallel for schedule(static) if ((long)C * N >= kMinParallelWork)
  for (int c = 0; c < C; c++) kernel_row_spectrum(Kf + (size_t)c * cs, scratch<T>(N).real, k + (size_t)c * kstride, Tn, N);
}

// One kernel row and its spectrum per thread (the forward without saved).
template <typename T>
static FftRowsScratch<T>& kernel_row_scratch(int N) {
  thread_local FftRowsScratch<T> s;
  s.ensure(1, N);
  return s;
}

template <typename T>
void fft_conv_forward(T* y, T* saved, const T* u, const T* k, int kstride, const T* D, int B, int Tn, int C,
                      bool kernel_spectra_ready) {
  const int N = fft_padded_length(Tn);
  const RealFft<T>& fft = real_fft<T>(N);
  const int rs = fft_real_stride(N), cs = fft_complex_stride(N), nb = fft_bins(N);
  auto* Uf = reinterpret_cast<std::complex<T>*>(saved);          // (B*C, cs)
  std::complex<T>* Kf = saved ? Uf + (size_t)B * C * cs : nullptr;  // (C, cs)
  if (saved && !kernel_spectra_ready) kernel_spectra(Kf, k, kstride, Tn, C, N);
  const T scale = T(1) / T(N);
  const int tiles = (C + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if ((long)B * C * N >= kMinParallelWork)
  for (int job = 0; job < B * tiles; job++) {
    const int b = job / tiles, c0 = (job % tiles) * kTile, w = std::min(kTile, C - c0);
    FftRowsScratch<T>& s = scratch<T>(N);
    const T* ub = u + (size_t)b * Tn * C;
    for (int j = 0; j < w; j++) std::fill(s.real + (size_t)j * rs + Tn, s.real + (size_t)(j + 1) * rs, T(0));
    for (int t = 0; t < Tn; t++)
      for (int j = 0; j < w; j++) s.real[(size_t)j * rs + t] = ub[(size_t)t * C + c0 + j];
    for (int j = 0; j < w; j++) {
      std::complex<T>* z = s.cplx + (size_t)j * cs;
      if (saved) {
        std::complex<T>* uf = Uf + ((size_t)b * C + c0 + j) * cs;
        const std::complex<T>* kf = Kf + (size_t)(c0 + j) * cs;
        fft.forward(s.real + (size_t)j * rs, uf);
        for (int f = 0; f < nb; f++) z[f] = uf[f] * kf[f];
      } else {  // the kernel row's spectrum made here, as kernel_spectra makes it
        FftRowsScratch<T>& ks = kernel_row_scratch<T>(N);
        kernel_row_spectrum(ks.cplx, ks.real, k + (size_t)(c0 + j) * kstride, Tn, N);
        fft.forward(s.real + (size_t)j * rs, z);
        for (int f = 0; f < nb; f++) z[f] = z[f] * ks.cplx[f];
      }
      fft.inverse(z, s.real + (size_t)j * rs);
    }
    T* yb = y + (size_t)b * Tn * C;
    for (int t = 0; t < Tn; t++)
      for (int j = 0; j < w; j++) {
        const size_t i = (size_t)t * C + c0 + j;
        yb[i] = s.real[(size_t)j * rs + t] * scale + D[c0 + j] * ub[i];
      }
  }
}

template <typename T>
void fft_conv_backward(T* du, T* dk, T* dD, const T* dy, const T* u, const T* k, int kstride, const T* D,
                       const T* saved, int B, int Tn, int C) {
  const int N = fft_padded_length(Tn);
  const RealFft<T>& fft = real_fft<T>(N);
  const int rs = fft_real_stride(N), cs = fft_complex_stride(N), nb = fft_bins(N);
  const auto* Uf = reinterpret_cast<const std::complex<T>*>(saved);
  const std::complex<T>* Kf = Uf + (size_t)B * C * cs;
  const T scale = T(1) / T(N);
  const int tiles = (C + kTile - 1) / kTile;
  // One tile of channels per job, looping over the batch inside so that the kernel-gradient
  // spectrum of each channel is accumulated by one thread only.
#pragma omp parallel for schedule(static) if ((long)B * C * N >= kMinParallelWork)
  for (int tile = 0; tile < tiles; tile++) {
    const int c0 = tile * kTile, w = std::min(kTile, C - c0);
    FftRowsScratch<T>& s = scratch<T>(N);
    std::vector<std::complex<T>> dkf((size_t)w * nb, std::complex<T>(0));
    std::vector<double> dDacc(w, 0.0);
    std::vector<std::complex<T>> dyf(nb);
    for (int b = 0; b < B; b++) {
      const T* dyb = dy + (size_t)b * Tn * C;
      const T* ub = u + (size_t)b * Tn * C;
      for (int j = 0; j < w; j++) std::fill(s.real + (size_t)j * rs + Tn, s.real + (size_t)(j + 1) * rs, T(0));
      for (int t = 0; t < Tn; t++)
        for (int j = 0; j < w; j++) {
          const size_t i = (size_t)t * C + c0 + j;
          s.real[(size_t)j * rs + t] = dyb[i];
          dDacc[j] += double(dyb[i]) * ub[i];
        }
      for (int j = 0; j < w; j++) {
        const std::complex<T>* uf = Uf + ((size_t)b * C + c0 + j) * cs;
        const std::complex<T>* kf = Kf + (size_t)(c0 + j) * cs;
        std::complex<T>* z = s.cplx + (size_t)j * cs;
        std::complex<T>* acc = dkf.data() + (size_t)j * nb;
        fft.forward(s.real + (size_t)j * rs, dyf.data());
        for (int f = 0; f < nb; f++) {
          acc[f] += std::conj(uf[f]) * dyf[f];
          z[f] = std::conj(kf[f]) * dyf[f];
        }
        if (du) fft.inverse(z, s.real + (size_t)j * rs);
      }
      if (du) {
        T* dub = du + (size_t)b * Tn * C;
        for (int t = 0; t < Tn; t++)
          for (int j = 0; j < w; j++) {
            const size_t i = (size_t)t * C + c0 + j;
            dub[i] += s.real[(size_t)j * rs + t] * scale + D[c0 + j] * dyb[i];
          }
      }
    }
    for (int j = 0; j < w; j++) {
      std::copy(dkf.begin() + (size_t)j * nb, dkf.begin() + (size_t)(j + 1) * nb, s.cplx);
      fft.inverse(s.cplx, s.real);
      T* dkc = dk + (size_t)(c0 + j) * kstride;
      for (int t = 0; t < Tn; t++) dkc[t] += s.real[t] * scale;
      dD[c0 + j] += T(dDacc[j]);
    }
  }
}

template <typename T>
void conv_naive_forward(T* y, const T* u, const T* k, int kstride, const T* D, int B, int Tn, int C,
                        bool circular) {
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++)
      for (int t = 0; t < Tn; t++) {
        double acc = double(D[c]) * u[((size_t)b * Tn + t) * C + c];
        const int smax = circular ? Tn - 1 : t;
        for (int s = 0; s <= smax; s++) {
          const int src = ((t - s) % Tn + Tn) % Tn;
          acc += double(k[(size_t)c * kstride + s]) * u[((size_t)b * Tn + src) * C + c];
        }
        y[((size_t)b * Tn + t) * C + c] = T(acc);
      }
}

template <typename T>
void conv_naive_backward(T* du, T* dk, T* dD, const T* dy, const T* u, const T* k, int kstride, const T* D,
                         int B, int Tn, int C) {
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++)
      for (int t = 0; t < Tn; t++) {
        const T g = dy[((size_t)b * Tn + t) * C + c];
        dD[c] += g * u[((size_t)b * Tn + t) * C + c];
        if (du) du[((size_t)b * Tn + t) * C + c] += g * D[c];
        for (int s = 0; s <= t; s++) {
          dk[(size_t)c * kstride + s] += g * u[((size_t)b * Tn + t - s) * C + c];
          if (du) du[((size_t)b * Tn + t - s) * C + c] += g * k[(size_t)c * kstride + s];
        }
      }
}

// One dot product per channel, accumulated in double: y_c = D_c·u_c[pos] + Σ_s k_c[s]·u_c[pos−s].
// Channels in blocks of kStepBlock with double accumulators, the history row by row: each of the
// pos + 1 rows of kt and of the cache is read once, contiguously.
static constexpr int kStepBlock = 64;

template <typename T>
void fft_conv_step(T* y, T* u_cache, const T* u, const T* kt, const T* D, int pos, int C) {
  assert(pos >= 0);
  T* ut = u_cache + (size_t)pos * C;
  std::copy(u, u + C, ut);
  for (int c0 = 0; c0 < C; c0 += kStepBlock) {
    const int n = std::min(kStepBlock, C - c0);
    double acc[kStepBlock];
    for (int j = 0; j < n; j++) acc[j] = double(D[c0 + j]) * ut[c0 + j];
    for (int s = 0; s <= pos; s++) {
      const T* __restrict kr = kt + (size_t)s * C + c0;
      const T* __restrict ur = u_cache + (size_t)(pos - s) * C + c0;
#pragma omp simd
      for (int j = 0; j < n; j++) acc[j] += double(kr[j]) * double(ur[j]);
    }
    for (int j = 0; j < n; j++) y[c0 + j] = T(acc[j]);
  }
}

// In 16 × 16 tiles, so that both the reads along taps and the writes along channels use whole lines.
template <typename T>
void fft_conv_step_taps(T* kt, const T* k, int kstride, int from, int to, int C) {
  assert(0 <= from && from <= to && to <= kstride);
  constexpr int kT = 16;
  for (int s0 = from; s0 < to; s0 += kT)
    for (int c0 = 0; c0 < C; c0 += kT) {
      const int s1 = std::min(to, s0 + kT), c1 = std::min(C, c0 + kT);
      for (int c = c0; c < c1; c++)
        for (int s = s0; s < s1; s++) kt[(size_t)s * C + c] = k[(size_t)c * kstride + s];
    }
}

template <typename T>
void fft_conv_step_batch(T* y, T* u_cache, size_t cache_size, const T* u, const T* kt, const T* D, int pos, int C,
                         int S) {
#pragma omp parallel for schedule(static) if (long(S) * (long(pos) + 1) * C >= kMinParallelWork)
  for (int i = 0; i < S; i++)
    fft_conv_step(y + size_t(i) * C, u_cache + size_t(i) * cache_size, u + size_t(i) * C, kt, D, pos, C);
}

#define SPECTRAL_INSTANTIATE(T)                                                                        \
  template void fft_conv_forward<T>(T*, T*, const T*, const T*, int, const T*, int, int, int, bool);   \
  template void fft_conv_backward<T>(T*, T*, T*, const T*, const T*, const T*, int, const T*, const T*, \
                                     int, int, int);                                                   \
  template void conv_naive_forward<T>(T*, const T*, const T*, int, const T*, int, int, int, bool);     \
  template void conv_naive_backward<T>(T*, T*, T*, const T*, const T*, const T*, int, const T*, int,   \
                                       int, int);                                                      \
  template void fft_conv_step<T>(T*, T*, const T*, const T*, const T*, int, int);                        \
  template void fft_conv_step_batch<T>(T*, T*, size_t, const T*, const T*, const T*, int, int, int);     \
  template void fft_conv_step_taps<T>(T*, const T*, int, int, int, int);
SPECTRAL_INSTANTIATE(float)
SPECTRAL_INSTANTIATE(double)
#undef SPECTRAL_INSTANTIATE

}  // namespace spectral
