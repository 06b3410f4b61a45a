// fft_online: the online causal convolution (the tiling is explained in the header). Squares are
// computed in tiles of kTile channels, as in fft_conv: gathering rows of the channel-last cache into
// channel-major transform rows then reads whole cache lines.
#include "ops/fft_online.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "ops/fft_plan.h"
#include "util/threads.h"

namespace spectral {

static constexpr int kTile = 16;

template <typename T>
void FftOnlineTaps<T>::Free::operator()(void* p) const {
  fft_aligned_free(p);
}

int fft_online_levels(int max_len, int L0) {
  assert(L0 >= 1);
  int levels = 0;
  while ((long(L0) << levels) < max_len) levels++;
  return levels;
}

int fft_online_levels_for_step(int pos, int max_len, int L0) {
  const int q = pos + 1;
  if (q % L0 != 0 || q >= max_len) return 0;
  int v = 0;
  while (((q / L0) >> v & 1) == 0) v++;
  return v + 1;
}

int fft_online_levels_for_prefill(int n, int max_len, int L0) {
  return fft_online_levels(std::min(n + 1, max_len), L0);  // levels with L_j <= n and L_j < max_len
}

template <typename T>
void fft_online_begin(FftOnlineTaps<T>& taps, const T* k, int kstride, int C, int max_len, int L0) {
  assert(L0 >= 1 && max_len >= 1);
  taps.L0 = L0;
  taps.max_len = max_len;
  taps.C = C;
  const int rows = std::min({L0, max_len, kstride});
  taps.kt.assign((size_t)std::min(L0, max_len) * C, T(0));
  for (int c = 0; c < C; c++)
    for (int s = 0; s < rows; s++) taps.kt[(size_t)s * C + c] = k[(size_t)c * kstride + s];
  taps.spectra.clear();
}

// Per-thread transform rows for kTile channels of length N.
// kTile rows of the transform length, one per thread (fft_conv keeps its own)
template <typename T>
static FftRowsScratch<T>& online_scratch(int N) {
  thread_local FftRowsScratch<T> s;
  s.ensure(kTile, N);
  return s;
}

template <typename T>
void fft_online_make_levels(FftOnlineTaps<T>& taps, const T* k, int kstride, int levels) {
  assert(levels <= fft_online_levels(taps.max_len, taps.L0));
  const int C = taps.C;
  while (taps.levels_made() < levels) {
    const int j = taps.levels_made();
    const int N = 2 * (taps.L0 << j), cs = fft_complex_stride(N), used = std::min(N, kstride);
    const RealFft<T>& fft = real_fft<T>(N);
    auto* spec = static_cast<std::complex<T>*>(fft_aligned_alloc(sizeof(std::complex<T>) * (size_t)C * cs));
    taps.spectra.emplace_back(spec);
    const T scale = T(1) / T(N);
#pragma omp parallel for schedule(static) if ((long)C * N >= 8 * kMinParallelWork)
    for (int c = 0; c < C; c++) {
      FftRowsScratch<T>& s = online_scratch<T>(N);
      std::memset(s.real, 0, sizeof(T) * N);
      std::memcpy(s.real, k + (size_t)c * kstride, sizeof(T) * used);
      std::complex<T>* row = spec + (size_t)c * cs;
      fft.forward(s.real, row);
      for (int b = 0; b < fft_bins(N); b++) row[b] *= scale;
    }
  }
}

// The square of level j at q (inputs [q − L, q) → outputs [q, q + L), L = L0·2^j): adds its outputs
// at positions [max(q, from), min(q + L, max_len)) to pending.
template <typename T>
static void add_square(T* pending, const T* u_cache, const FftOnlineTaps<T>& taps, int j, int q, int from, int C) {
  const int L = taps.L0 << j, N = 2 * L;
  const int t0 = std::max(q, from), t1 = std::min(q + L, taps.max_len);
  if (t0 >= t1) return;
  const RealFft<T>& fft = real_fft<T>(N);
  const int rs = fft_real_stride(N), cs = fft_complex_stride(N), bins = fft_bins(N);
  const std::complex<T>* spec = taps.spectra[j].get();
  const T* src = u_cache + (size_t)(q - L) * C;
  const int tiles = (C + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if ((long)C * N >= 8 * kMinParallelWork)
  for (int tile = 0; tile < tiles; tile++) {
    const int c0 = tile * kTile, nc = std::min(kTile, C - c0);
    FftRowsScratch<T>& s = online_scratch<T>(N);
    for (int r = 0; r < nc; r++) std::memset(s.real + (size_t)r * rs + L, 0, sizeof(T) * L);
    if (nc == kTile) {  // a whole tile: a loop of known length, unrolled
      for (int a = 0; a < L; a++) {
        const T* row = src + (size_t)a * C + c0;
        for (int r = 0; r < kTile; r++) s.real[(size_t)r * rs + a] = row[r];
      }
    } else {
      for (int a = 0; a < L; a++) {
        const T* row = src + (size_t)a * C + c0;
        for (int r = 0; r < nc; r++) s.real[(size_t)r * rs + a] = row[r];
      }
    }
    for (int r = 0; r < nc; r++) {
      std::complex<T>* f = s.cplx + (size_t)r * cs;
      const std::complex<T>* kf = spec + (size_t)(c0 + r) * cs;
      fft.forward(s.real + (size_t)r * rs, f);
      for (int b = 0; b < bins; b++) f[b] *= kf[b];
      fft.inverse(f, s.real + (size_t)r * rs);
    }
    // output q + b is entry L + b of the circular product
    if (nc == kTile) {
      for (int t = t0; t < t1; t++) {
        T* out = pending + (size_t)t * C + c0;
        const T* in = s.real + (L + t - q);
        for (int r = 0; r < kTile; r++) out[r] += in[(size_t)r * rs];
      }
    } else {
      for (int t = t0; t < t1; t++) {
        T* out = pending + (size_t)t * C + c0;
        const T* in = s.real + (L + t - q);
        for (int r = 0; r < nc; r++) out[r] += in[(size_t)r * rs];
      }
    }
  }
}

static constexpr int kStepBlock = 64;

template <typename T>
void fft_online_step(T* y, T* u_cache, T* pending, const T* u, const FftOnlineTaps<T>& taps, const T* D, int pos,
                     int C) {
  assert(pos >= 0 && pos < taps.max_len && taps.C == C);
  const int L0 = taps.L0;
  T* ut = u_cache + (size_t)pos * C;
  std::copy(u, u + C, ut);
  const T* pend = pending + (size_t)pos * C;
  const int in_block = pos % L0;  // lags 0..in_block reach back to the start of pos's base block
  const T* kt = taps.kt.data();
  // Accumulated in T: at most L0 products per output.
  for (int c0 = 0; c0 < C; c0 += kStepBlock) {
    const int n = std::min(kStepBlock, C - c0);
    T acc[kStepBlock];
    for (int j = 0; j < n; j++) acc[j] = D[c0 + j] * ut[c0 + j] + pend[c0 + j];
    for (int s = 0; s <= in_block; s++) {
      const T* __restrict kr = kt + (size_t)s * C + c0;
      const T* __restrict ur = u_cache + (size_t)(pos - s) * C + c0;
#pragma omp simd
      for (int j = 0; j < n; j++) acc[j] += kr[j] * ur[j];
    }
    for (int j = 0; j < n; j++) y[c0 + j] = acc[j];
  }
  const int levels = fft_online_levels_for_step(pos, taps.max_len, L0);
  if (levels > 0) {
    assert(taps.levels_made() >= levels);
    add_square(pending, u_cache, taps, levels - 1, pos + 1, pos + 1, C);
  }
}

// For a position t >= n, the steps add its squares in increasing q, i.e. from the highest level down.
template <typename T>
void fft_online_prefill(T* pending, const T* u_cache, const FftOnlineTaps<T>& taps, int n, int C) {
  assert(n >= 1 && n <= taps.max_len && taps.C == C);
  const int levels = fft_online_levels_for_prefill(n, taps.max_len, taps.L0);
  assert(taps.levels_made() >= levels);
  for (int j = levels - 1; j >= 0; j--) {
    const int L = taps.L0 << j, q = n / L * L;  // the one multiple of L in (n − L, n]
    if (q > 0 && (q / L) % 2 == 1 && q < taps.max_len) add_square(pending, u_cache, taps, j, q, n, C);
  }
}

#define SPECTRAL_INSTANTIATE(T)                                                                                   \
  template struct FftOnlineTaps<T>;                                                                               \
  template void fft_online_begin<T>(FftOnlineTaps<T>&, const T*, int, int, int, int);                             \
  template void fft_online_make_levels<T>(FftOnlineTaps<T>&, const T*, int, int);                                 \
  template void fft_online_step<T>(T*, T*, T*, const T*, const FftOnlineTaps<T>&, const T*, int, int);            \
  template void fft_online_prefill<T>(T*, const T*, const FftOnlineTaps<T>&, int, int);
SPECTRAL_INSTANTIATE(float)
SPECTRAL_INSTANTIATE(double)
#undef SPECTRAL_INSTANTIATE

}  // namespace spectral
