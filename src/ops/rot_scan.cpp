// rot_scan: forward/backward of the rot level loop and its one-position step (the naive reference is
// in rot_scan_naive.cpp).
//
// Work is split into independent units that never share a written value: LowRank — (batch, block of
// 16 channels); HeadPhase — (batch, 16-channel block of a head) in forward and (batch, head) in
// backward (a head's channels add into one phase gradient); Dynamic — (batch, head) (its phase is a
// dot product over the whole head). Units are dealt round-robin to `slots` workspace slots, one
// OpenMP iteration per slot. A unit copies its column block of the (B,T,W) tensor into packed rows
// (T × 16 floats = 256 KiB at T = 4096: the levels then run in L2 cache, and packed rows avoid the
// cache-set conflicts of a 1 KiB row stride), then updates it in place level after level: at level
// l, going down in t, row t reads rows t and t−2^l, and row t−2^l has not been overwritten yet.
// Backward recomputes the unit's level states θ_0 … θ_{Lv−1} from θ_0 and the saved sines/cosines
// (one more forward's worth of arithmetic) into its workspace slot, then runs the mirror image going
// up in t: row t of ∂θ_l reads rows t and t+2^l of ∂θ_{l+1}, and row t+2^l is still unchanged.
#include "ops/rot_scan.h"

#include <omp.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "util/threads.h"

namespace spectral {

static constexpr int kBlock = 16;  // channels per LowRank/HeadPhase unit (one cache line of floats)

RotVariant rot_variant_from_name(const std::string& name) {
  if (name == "lowrank") return RotVariant::LowRank;
  if (name == "headphase") return RotVariant::HeadPhase;
  if (name == "dynamic") return RotVariant::Dynamic;
  throw std::invalid_argument("unknown rot variant \"" + name + "\" (expected lowrank, headphase or dynamic)");
}

int rot_levels(int context) {
  int Lv = 0;
  for (unsigned v = context > 1 ? unsigned(context - 1) : 0u; v; v >>= 1) Lv++;
  return Lv;
}

double rot_scale(RotVariant v) { return v == RotVariant::LowRank ? 1.0 : 1.0 / std::sqrt(2.0); }

int rot_phase_width(RotVariant v, int W, int H) { return v == RotVariant::LowRank ? W : H; }

static int num_blocks(int n) { return (n + kBlock - 1) / kBlock; }
static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

size_t rot_scan_saved_size(RotVariant v, int B, int Tn, int W, int H, int Lv) {
  const size_t btl = size_t(B) * Tn * Lv;
  switch (v) {
    case RotVariant::LowRank: return 2 * btl * num_blocks(W) * kBlock;
    case RotVariant::HeadPhase: return 2 * btl * H;
    case RotVariant::Dynamic: return 3 * btl * H;
  }
  return 0;
}

static size_t unit_width(RotVariant v, int W, int H) { return v == RotVariant::Dynamic ? W / H : kBlock; }

static size_t slot_size(RotVariant v, int Tn, int W, int H, int Lv) {
  const size_t n = unit_width(v, W, H);
  return round16(size_t(Lv + 1) * Tn * n + (v == RotVariant::Dynamic ? size_t(Lv) * n : 0));
}

size_t rot_scan_work_size(RotVariant v, int Tn, int W, int H, int Lv, int slots) {
  return size_t(std::max(slots, 1)) * slot_size(v, Tn, W, H, Lv);
}

int rot_scan_default_slots() { return std::max(1, omp_get_max_threads()); }

// ---------------------------------------------------------------------------------------------
// sin and cos
// ---------------------------------------------------------------------------------------------

// Cephes sinf/cosf: x = q·π/2 + r with |r| <= π/4 (π/2 split in three parts so q·part is exact for
// |q| < 2^13), minimax polynomials on r, quadrant q mod 4 picks and signs the result. Branch-free,
// so loops over it vectorize.
static inline void sincos_poly(float x, float& c, float& s) {
  // 1.5·2^23: adding and subtracting it rounds to the nearest integer (|x| < 2^22; needs IEEE
  // semantics — -ffast-math would fold the two away)
  const float magic = 12582912.0f;
  const float q = (x * 0.636619772367581343f + magic) - magic;
  const int k = int(q);
  float r = x - q * 1.5703125f;
  r = r - q * 4.837512969970703125e-4f;
  r = r - q * 7.54978995489188216e-8f;
  const float z = r * r;
  const float sp = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  const float cp = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
                   0.5f * z + 1.0f;
  const bool odd = k & 1;
  const float s0 = odd ? cp : sp, c0 = odd ? sp : cp;
  s = (k & 2) ? -s0 : s0;
  c = ((k + 1) & 2) ? -c0 : c0;
}

static inline void sincos_one(float x, float& c, float& s) { sincos_poly(x, c, s); }
static inline void sincos_one(double x, double& c, double& s) {
  c = std::cos(x);
  s = std::sin(x);
}

template <typename T>
void rot_sincos(T* cosv, T* sinv, const T* x, int n) {
#pragma omp simd
  for (int i = 0; i < n; i++) {
    T c, s;
    sincos_one(x[i], c, s);
    cosv[i] = c;
    sinv[i] = s;
  }
}
template void rot_sincos<float>(float*, float*, const float*, int);
template void rot_sincos<double>(double*, double*, const double*, int);

template <typename T>
static inline T clamp_phase(T raw) {
  return std::min(std::max(raw, T(-kRotPhaseClamp)), T(kRotPhaseClamp));
}
// torch.clamp's gradient convention: the bounds themselves pass the gradient.
template <typename T>
static inline bool inside_clamp(T raw) {
  return raw >= T(-kRotPhaseClamp) && raw <= T(kRotPhaseClamp);
}

// Row sums over channels (dot products) in 8 lanes: each lane accumulates its own elements (one
// vector register, no reassociation needed); sum8 then adds the lanes in a fixed tree. Loops sum a
// row's lanes kLag rows after writing them: reading them back at once stalls on store-to-load
// forwarding (a vector store read back as scalars), which cost more than the arithmetic.
static constexpr int kLag = 8;

template <typename T>
static inline T sum8(const T* lanes) {
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}
// lanes of Σ_j a[j]·b[j]
template <typename T>
static inline void dot_lanes(T* __restrict lanes, const T* __restrict a, const T* __restrict b, int n) {
  T acc[8] = {};
  int j = 0;
  for (; j + 8 <= n; j += 8) {
#pragma omp simd
    for (int k = 0; k < 8; k++) acc[k] += a[j + k] * b[j + k];
  }
  for (int k = 0; k < 8 && j + k < n; k++) acc[k] += a[j + k] * b[j + k];
  for (int k = 0; k < 8; k++) lanes[k] = acc[k];
}
// dynamic variant, one position of one level: φ_h = clamp(w_l · θ_l[h, :]) for each head h, as
// cos/sin into cs, sn (length H), each dot product summed in the lanes the forward uses. The step
// computes it per position this way.
template <typename T>
static void dynamic_phases_one(T* cs, T* sn, const T* wl, const T* theta, int H, int hw) {
  for (int h = 0; h < H; h++) {
    T lanes[8];
    dot_lanes(lanes, wl, theta + size_t(h) * hw, hw);
    cs[h] = clamp_phase(sum8(lanes));
  }
  rot_sincos(cs, sn, cs, H);
}
// lanes of Σ_j g[j]·(cs·as[j] − sn·ar[j]) (as null: the shifted term is zero) — ∂L/∂φ / c of a
// head's row.
template <typename T>
static inline void phase_grad_lanes(T* __restrict lanes, const T* __restrict g, const T* __restrict ar,
                                    const T* __restrict as, T cs, T sn, int n) {
  T acc[8] = {};
  int j = 0;
  if (as) {
    for (; j + 8 <= n; j += 8) {
#pragma omp simd
      for (int k = 0; k < 8; k++) acc[k] += g[j + k] * (cs * as[j + k] - sn * ar[j + k]);
    }
    for (int k = 0; k < 8 && j + k < n; k++) acc[k] += g[j + k] * (cs * as[j + k] - sn * ar[j + k]);
  } else {
    for (; j + 8 <= n; j += 8) {
#pragma omp simd
      for (int k = 0; k < 8; k++) acc[k] -= g[j + k] * (sn * ar[j + k]);
    }
    for (int k = 0; k < 8 && j + k < n; k++) acc[k] -= g[j + k] * (sn * ar[j + k]);
  }
  for (int k = 0; k < 8; k++) lanes[k] = acc[k];
}

// Copies n channels of T rows (stride ld) into packed rows of stride m; back (copying or adding).
// Plain loops (memcpy of a 64-byte row with a run-time size becomes a slow `rep movs`), prefetching
// the strided side: at a 1 KiB row stride every fourth row is a new page, where hardware
// prefetchers stop.
static constexpr int kRowPrefetch = 8;
template <typename T>
static void gather_rows(T* dst, int m, const T* src, int ld, int n, int Tn) {
  for (int t = 0; t < Tn; t++) {
    if (t + kRowPrefetch < Tn) __builtin_prefetch(src + size_t(t + kRowPrefetch) * ld);
    T* __restrict d = dst + size_t(t) * m;
    const T* __restrict s = src + size_t(t) * ld;
#pragma omp simd
    for (int j = 0; j < n; j++) d[j] = s[j];
  }
}
template <typename T>
static void scatter_rows(T* dst, int ld, const T* src, int m, int n, int Tn) {
  for (int t = 0; t < Tn; t++) {
    if (t + kRowPrefetch < Tn) __builtin_prefetch(dst + size_t(t + kRowPrefetch) * ld, 1);
    T* __restrict d = dst + size_t(t) * ld;
    const T* __restrict s = src + size_t(t) * m;
#pragma omp simd
    for (int j = 0; j < n; j++) d[j] = s[j];
  }
}
template <typename T>
static void scatter_add_rows(T* dst, int ld, const T* src, int m, int n, int Tn) {
  for (int t = 0; t < Tn; t++) {
    if (t + kRowPrefetch < Tn) __builtin_prefetch(dst + size_t(t + kRowPrefetch) * ld, 1);
    T* __restrict d = dst + size_t(t) * ld;
    const T* __restrict s = src + size_t(t) * m;
#pragma omp simd
    for (int j = 0; j < n; j++) d[j] += s[j];
  }
}

// Rows of the phase tensor are Lv·W apart (3 KiB at W = 64, Lv = 12): every row a different page,
// which hardware prefetchers do not follow, so the LowRank loops prefetch kPrefetch rows ahead.
static constexpr int kPrefetch = 16;

// Stores a LowRank table entry {cos[16], sin[16]} (128 bytes, two whole cache lines). The table
// is read again only by backward, after everything else in the step, so float stores bypass the
// cache when the entry is 32-byte aligned (it is when the saved buffer is).
template <typename T>
static inline void store_trig(T* dst, const T* cs, const T* sn, bool stream) {
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float>) {
    if (stream) {
      _mm256_stream_ps(dst, _mm256_load_ps(cs));
      _mm256_stream_ps(dst + 8, _mm256_load_ps(cs + 8));
      _mm256_stream_ps(dst + 16, _mm256_load_ps(sn));
      _mm256_stream_ps(dst + 24, _mm256_load_ps(sn + 8));
      return;
    }
  }
#endif
  std::memcpy(dst, cs, kBlock * sizeof(T));
  std::memcpy(dst + kBlock, sn, kBlock * sizeof(T));
}
static inline void store_fence() {
#if defined(__AVX__)
  _mm_sfence();
#endif
}

// ---------------------------------------------------------------------------------------------
// forward
// ---------------------------------------------------------------------------------------------

// Where the forward also leaves the step's rings (rot_scan_step's layout, one sequence): before level
// l runs, a unit's packed rows hold θ_l of its channels c0..c0+n−1, and level l's ring (kept when
// l < levels) is their last 2^l rows, row p in slot p mod 2^l.
template <typename T>
struct RingSink {
  T* state = nullptr;  // null: no rings wanted
  int W = 0, levels = 0;
  void capture(int l, const T* x, int m, int c0, int n, int Tn) const {
    if (!state || l >= levels) return;
    const long s = 1L << l;
    T* ring = state + (size_t(s) - 1) * W + c0;
    for (long p = std::max(0L, long(Tn) - s); p < Tn; p++)
      std::memcpy(ring + size_t(p & (s - 1)) * W, x + size_t(p) * m, size_t(n) * sizeof(T));
  }
};

// One level in place on packed rows x (T, m), n channels, one phase per row: going down in t,
// x[t] = c·(cos[t]·x[t] + sin[t]·x[t−s]).
template <typename T, int NC>
static void level_inplace_scalar(T* x, int m, int n_rt, int Tn, int s, const T* cs, const T* sn, T c) {
  const int n = NC > 0 ? NC : n_rt;
  int t = Tn - 1;
  for (; t >= s; t--) {
    const T ct = c * cs[t], st = c * sn[t];
    T* __restrict xr = x + size_t(t) * m;
    const T* __restrict xs = x + size_t(t - s) * m;
#pragma omp simd
    for (int j = 0; j < n; j++) xr[j] = ct * xr[j] + st * xs[j];
  }
  for (; t >= 0; t--) {
    const T ct = c * cs[t];
    T* __restrict xr = x + size_t(t) * m;
#pragma omp simd
    for (int j = 0; j < n; j++) xr[j] = ct * xr[j];
  }
}

// LowRank unit, in place on packed rows x (T, kBlock), n (= NC when NC > 0) channels; c = 1. Per
// level and row, computes the block's cos/sin from phi (row stride Lv·W), uses them and stores them
// in tab (Lv, T, {cos[16], sin[16]}).
template <typename T, int NC>
static void lowrank_forward_unit(T* x, T* tab, const T* phi, int n_rt, int Tn, int W, int Lv, const RingSink<T>& rings,
                                 int c0) {
  const int n = NC > 0 ? NC : n_rt;
  const size_t ldphi = size_t(Lv) * W;
  const bool stream = NC == kBlock && reinterpret_cast<uintptr_t>(tab) % 32 == 0;
  alignas(64) T cs[kBlock] = {}, sn[kBlock] = {};
  for (int l = 0; l < Lv; l++) {
    rings.capture(l, x, kBlock, c0, n, Tn);
    const int s = 1 << std::min(l, 30);
    T* tl = tab + size_t(l) * Tn * 2 * kBlock;
    const T* pl = phi + size_t(l) * W;
    for (int t = Tn - 1; t >= 0; t--) {
      if (t >= kPrefetch) __builtin_prefetch(pl + size_t(t - kPrefetch) * ldphi);
      const T* __restrict ph = pl + size_t(t) * ldphi;
#pragma omp simd
      for (int j = 0; j < n; j++) sincos_one(ph[j], cs[j], sn[j]);
      store_trig(tl + size_t(t) * 2 * kBlock, cs, sn, stream);
      T* __restrict xr = x + size_t(t) * kBlock;
      if (t >= s) {
        const T* __restrict xs = x + size_t(t - s) * kBlock;
#pragma omp simd
        for (int j = 0; j < n; j++) xr[j] = cs[j] * xr[j] + sn[j] * xs[j];
      } else {
#pragma omp simd
        for (int j = 0; j < n; j++) xr[j] = cs[j] * xr[j];
      }
    }
  }
  if (stream) store_fence();
}

// Dynamic: turns the raw phases of one (head, level) row of T into cos and sin (tab (3, T):
// cos, sin, raw).
template <typename T>
static void dynamic_phases(T* tab, int Tn) {
  T* cs = tab;
  T* sn = tab + Tn;
  const T* raw = tab + 2 * Tn;
  for (int t = 0; t < Tn; t++) sn[t] = clamp_phase(raw[t]);
  rot_sincos(cs, sn, sn, Tn);  // in place is fine: element i reads x[i] before writing it
}

// Dynamic unit: one head, packed rows x (T, n), tab (Lv, {cos[T], sin[T], raw[T]}), w (Lv, n).
template <typename T>
static void dynamic_forward_unit(T* x, T* tab, const T* w, int n, int Tn, int Lv, T c, const RingSink<T>& rings,
                                 int c0) {
  alignas(64) T lanes[kLag][8];
  T* raw0 = tab + 2 * Tn;
  for (int t = 0; t < Tn + kLag; t++) {
    if (t >= kLag) raw0[t - kLag] = sum8(lanes[t % kLag]);
    if (t < Tn) dot_lanes(lanes[t % kLag], w, x + size_t(t) * n, n);
  }
  dynamic_phases(tab, Tn);
  for (int l = 0; l < Lv; l++) {
    rings.capture(l, x, n, c0, n, Tn);
    const int s = 1 << std::min(l, 30);
    const T* cl = tab + size_t(l) * 3 * Tn;
    const T* sl = cl + Tn;
    T* rawn = l + 1 < Lv ? tab + size_t(l + 1) * 3 * Tn + 2 * Tn : nullptr;
    const T* wn = w + size_t(l + 1) * n;
    for (int t = Tn - 1; t >= -kLag; t--) {
      if (rawn && t + kLag < Tn) rawn[t + kLag] = sum8(lanes[(t + kLag) % kLag]);
      if (t < 0) continue;
      const T ct = c * cl[t], st = c * sl[t];
      T* __restrict xr = x + size_t(t) * n;
      if (t >= s) {
        const T* __restrict xs = x + size_t(t - s) * n;
#pragma omp simd
        for (int j = 0; j < n; j++) xr[j] = ct * xr[j] + st * xs[j];
      } else {
#pragma omp simd
        for (int j = 0; j < n; j++) xr[j] = ct * xr[j];
      }
      if (rawn) dot_lanes(lanes[t % kLag], wn, xr, n);  // θ_{l+1}[t] is final: its level-(l+1) phase
    }
    if (rawn) dynamic_phases(tab + size_t(l + 1) * 3 * Tn, Tn);
  }
}

template <typename T>
void rot_scan_forward(T* out, T* saved, T* work, const T* theta0, const T* phase, RotVariant v, int B, int Tn,
                      int W, int H, int Lv, int slots, T* rings, int max_len) {
  if (rings && (B != 1 || Tn > max_len)) throw std::invalid_argument("rot_scan_forward: rings need B = 1 and Tn <= max_len");
  RingSink<T> sink;
  if (rings) {
    sink.state = rings;
    sink.W = W;
    while (sink.levels < Lv && (1L << sink.levels) < max_len) sink.levels++;
  }
  if (Lv == 0) {
    std::memcpy(out, theta0, size_t(B) * Tn * W * sizeof(T));
    return;
  }
  const T c = T(rot_scale(v));
  slots = std::max(slots, 1);
  const size_t ss = slot_size(v, Tn, W, H, Lv);
  const int hw = W / H;
  if (v == RotVariant::HeadPhase) {
    // cos/sin of every phase, regrouped from (B,T,Lv,H) to (B,H,Lv,{cos,sin},T), 16 positions at a
    // time so that each table row receives whole cache lines
    const int LH = Lv * H, ntile = (Tn + 15) / 16;
#pragma omp parallel for schedule(static) if (long(B) * Tn * Lv * H >= kMinParallelWork)
    for (int bt = 0; bt < B * ntile; bt++) {
      const int b = bt / ntile, t0 = (bt % ntile) * 16, nt = std::min(16, Tn - t0);
      T cbuf[16][64], sbuf[16][64];
      for (int i0 = 0; i0 < LH; i0 += 64) {
        const int m = std::min(64, LH - i0);
        for (int tt = 0; tt < nt; tt++)
          rot_sincos(cbuf[tt], sbuf[tt], phase + (size_t(b) * Tn + t0 + tt) * LH + i0, m);
        int l = i0 / H, h = i0 % H;
        for (int i = 0; i < m; i++) {
          T* tab = saved + ((size_t(b) * H + h) * Lv + l) * 2 * Tn + t0;
          for (int tt = 0; tt < nt; tt++) {
            tab[tt] = cbuf[tt][i];
            tab[Tn + tt] = sbuf[tt][i];
          }
          if (++h == H) h = 0, l++;
        }
      }
    }
  }
  // units: LowRank (b, block of W); HeadPhase (b, h, block of the head); Dynamic (b, h)
  const int nblk = v == RotVariant::LowRank ? num_blocks(W) : v == RotVariant::HeadPhase ? num_blocks(hw) : 1;
  const int nunits = v == RotVariant::LowRank ? B * nblk : B * H * nblk;
#pragma omp parallel for schedule(static) if (long(B) * Tn * W * Lv >= kMinParallelWork)
  for (int slot = 0; slot < slots; slot++) {
    T* x = work + size_t(slot) * ss;
    for (int u = slot; u < nunits; u += slots) {
      if (v == RotVariant::LowRank) {
        const int b = u / nblk, c0 = (u % nblk) * kBlock, n = std::min(kBlock, W - c0);
        const size_t row = size_t(b) * Tn * W + c0;
        T* tab = saved + size_t(u) * Lv * Tn * 2 * kBlock;
        const T* phi = phase + size_t(b) * Tn * Lv * W + c0;
        gather_rows(x, kBlock, theta0 + row, W, n, Tn);
        if (n == kBlock)
          lowrank_forward_unit<T, kBlock>(x, tab, phi, n, Tn, W, Lv, sink, c0);
        else
          lowrank_forward_unit<T, 0>(x, tab, phi, n, Tn, W, Lv, sink, c0);
        scatter_rows(out + row, W, x, kBlock, n, Tn);
      } else if (v == RotVariant::HeadPhase) {
        const int bh = u / nblk, k0 = (u % nblk) * kBlock, b = bh / H, h = bh % H, n = std::min(kBlock, hw - k0);
        const size_t row = size_t(b) * Tn * W + size_t(h) * hw + k0;
        const T* tab = saved + size_t(bh) * Lv * 2 * Tn;
        gather_rows(x, kBlock, theta0 + row, W, n, Tn);
        for (int l = 0; l < Lv; l++) {
          sink.capture(l, x, kBlock, h * hw + k0, n, Tn);
          const T* cl = tab + size_t(l) * 2 * Tn;
          const int s = 1 << std::min(l, 30);
          if (n == kBlock)
            level_inplace_scalar<T, kBlock>(x, kBlock, n, Tn, s, cl, cl + Tn, c);
          else
            level_inplace_scalar<T, 0>(x, kBlock, n, Tn, s, cl, cl + Tn, c);
        }
        scatter_rows(out + row, W, x, kBlock, n, Tn);
      } else {
        const int b = u / H, h = u % H;
        const size_t row = size_t(b) * Tn * W + size_t(h) * hw;
        gather_rows(x, hw, theta0 + row, W, hw, Tn);
        dynamic_forward_unit(x, saved + size_t(u) * Lv * 3 * Tn, phase, hw, Tn, Lv, c, sink, h * hw);
        scatter_rows(out + row, W, x, hw, hw, Tn);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// backward
// ---------------------------------------------------------------------------------------------

// Level states θ_1 … θ_{Lv−1} of a packed unit (rows of stride m) from θ_0 in S (Lv, T, m). The
// phases of row t at level l: per channel cs[j], sn[j], or per head cs[0], sn[0]; phases(l, t, cs,
// sn) gives the pointers.
template <typename T, int NC, bool PerChannel, typename Phases>
static void recompute_states(T* S, int m, int n_rt, int Tn, int Lv, T c, const Phases& phases) {
  const int n = NC > 0 ? NC : n_rt;
  for (int l = 0; l + 1 < Lv; l++) {
    const int s = 1 << std::min(l, 30);
    const T* a = S + size_t(l) * Tn * m;
    T* y = S + size_t(l + 1) * Tn * m;
    for (int t = 0; t < Tn; t++) {
      const T *cs, *sn;
      phases(l, t, cs, sn);
      const T* __restrict ar = a + size_t(t) * m;
      T* __restrict yr = y + size_t(t) * m;
      if (PerChannel) {
        if (t >= s) {
          const T* __restrict as = a + size_t(t - s) * m;
#pragma omp simd
          for (int j = 0; j < n; j++) yr[j] = c * (cs[j] * ar[j] + sn[j] * as[j]);
        } else {
#pragma omp simd
          for (int j = 0; j < n; j++) yr[j] = c * (cs[j] * ar[j]);
        }
      } else {
        const T ct = c * cs[0], st = c * sn[0];
        if (t >= s) {
          const T* __restrict as = a + size_t(t - s) * m;
#pragma omp simd
          for (int j = 0; j < n; j++) yr[j] = ct * ar[j] + st * as[j];
        } else {
#pragma omp simd
          for (int j = 0; j < n; j++) yr[j] = ct * ar[j];
        }
      }
    }
  }
}

// LowRank / HeadPhase unit backward over packed states S (Lv, T, kBlock) and gradient G (T, kBlock):
// G = ∂L/∂θ_Lv on entry, ∂L/∂θ_0 on exit. Going up in t, row t of ∂θ_l needs rows t and t+s of
// ∂θ_{l+1}, and row t+s has not been overwritten yet:
//   ∂θ_l[t] = c·(cos_t·∂θ_{l+1}[t] + sin_{t+s}·∂θ_{l+1}[t+s]),
//   ∂φ_l[t] += c·∂θ_{l+1}[t]·(cos_t·θ_l[t−s] − sin_t·θ_l[t])   (summed over the head for HeadPhase).
// Phase gradients: per channel into dphi + (t·Lv + l)·ldphi (n values), per head into that one value.
template <typename T, int NC, bool PerChannel, typename Phases>
static void levels_backward(T* G, T* dphi, int ldphi, const T* S, int n_rt, int Tn, int Lv, T c,
                            const Phases& phases) {
  const int n = NC > 0 ? NC : n_rt;
  const int m = kBlock;
  alignas(64) T lanes[kLag][8];
  for (int l = Lv - 1; l >= 0; l--) {
    const int s = 1 << std::min(l, 30);
    const T* a = S + size_t(l) * Tn * m;
    for (int t = 0; t < Tn; t++) {
      const T *cs, *sn, *cs2 = nullptr, *sn2 = nullptr;
      phases(l, t, cs, sn);
      if (t + s < Tn) phases(l, t + s, cs2, sn2);
      T* __restrict g = G + size_t(t) * m;
      const T* __restrict gn = t + s < Tn ? G + size_t(t + s) * m : nullptr;
      const T* __restrict ar = a + size_t(t) * m;
      const T* __restrict as = t >= s ? a + size_t(t - s) * m : nullptr;
      T* __restrict dp = dphi + (size_t(t) * Lv + l) * ldphi;
      if (PerChannel) {
        if (t + kPrefetch < Tn) __builtin_prefetch(dp + size_t(kPrefetch) * Lv * ldphi, 1);
        if (as) {
#pragma omp simd
          for (int j = 0; j < n; j++) dp[j] += c * g[j] * (cs[j] * as[j] - sn[j] * ar[j]);
        } else {
#pragma omp simd
          for (int j = 0; j < n; j++) dp[j] -= c * g[j] * sn[j] * ar[j];
        }
        if (gn) {
#pragma omp simd
          for (int j = 0; j < n; j++) g[j] = c * (cs[j] * g[j] + sn2[j] * gn[j]);
        } else {
#pragma omp simd
          for (int j = 0; j < n; j++) g[j] = c * (cs[j] * g[j]);
        }
      } else {
        if (t >= kLag) dphi[(size_t(t - kLag) * Lv + l) * ldphi] += c * sum8(lanes[t % kLag]);
        phase_grad_lanes(lanes[t % kLag], g, ar, as, cs[0], sn[0], n);
        const T ct = c * cs[0];
        if (gn) {
          const T st = c * sn2[0];
#pragma omp simd
          for (int j = 0; j < n; j++) g[j] = ct * g[j] + st * gn[j];
        } else {
#pragma omp simd
          for (int j = 0; j < n; j++) g[j] = ct * g[j];
        }
      }
    }
    if (!PerChannel)
      for (int t = std::max(Tn - kLag, 0); t < Tn; t++) dphi[(size_t(t) * Lv + l) * ldphi] += c * sum8(lanes[t % kLag]);
  }
}

// Dynamic unit backward: packed states S (Lv, T, n), gradient G (T, n) as above, tab (Lv, {cos, sin,
// raw}, T), w and dw (Lv, n). The phase φ_l[t] = clamp(w_l·θ_l[t]) adds, inside the clamp,
//   ∂θ_l[t] += ∂φ·w_l  and  ∂w_l += ∂φ·θ_l[t].
template <typename T>
static void dynamic_backward_unit(T* G, T* dw, const T* S, const T* tab, const T* w, int n, int Tn, int Lv, T c) {
  alignas(64) T lanes[kLag][8];
  for (int l = Lv - 1; l >= 0; l--) {
    const int s = 1 << std::min(l, 30);
    const T* a = S + size_t(l) * Tn * n;
    const T* cl = tab + size_t(l) * 3 * Tn;
    const T* sl = cl + Tn;
    const T* rl = cl + 2 * Tn;
    const T* __restrict wl = w + size_t(l) * n;
    T* __restrict dwl = dw + size_t(l) * n;
    for (int t = 0; t < Tn + kLag; t++) {
      if (t >= kLag) {
        // the phase term of row r = t − kLag, added once its sum is ready (no later row reads ∂θ_l[r])
        const int r = t - kLag;
        if (inside_clamp(rl[r])) {
          const T d = c * sum8(lanes[r % kLag]);
          T* __restrict gr = G + size_t(r) * n;
          const T* __restrict ar = a + size_t(r) * n;
#pragma omp simd
          for (int j = 0; j < n; j++) {
            gr[j] += d * wl[j];
            dwl[j] += d * ar[j];
          }
        }
      }
      if (t >= Tn) continue;
      T* __restrict g = G + size_t(t) * n;
      const T* ar = a + size_t(t) * n;
      const T* as = t >= s ? a + size_t(t - s) * n : nullptr;
      phase_grad_lanes(lanes[t % kLag], g, ar, as, cl[t], sl[t], n);
      const T ct = c * cl[t];
      if (t + s < Tn) {
        const T st = c * sl[t + s];
        const T* __restrict gn = G + size_t(t + s) * n;
#pragma omp simd
        for (int j = 0; j < n; j++) g[j] = ct * g[j] + st * gn[j];
      } else {
#pragma omp simd
        for (int j = 0; j < n; j++) g[j] = ct * g[j];
      }
    }
  }
}

template <typename T>
void rot_scan_backward(T* dtheta0, T* dphase, T* work, const T* dout, const T* theta0, const T* phase,
                       const T* saved, RotVariant v, int B, int Tn, int W, int H, int Lv, int slots) {
  const size_t BTW = size_t(B) * Tn * W;
  if (Lv == 0) {
    for (size_t i = 0; i < BTW; i++) dtheta0[i] += dout[i];
    return;
  }
  const T c = T(rot_scale(v));
  slots = std::max(slots, 1);
  const size_t ss = slot_size(v, Tn, W, H, Lv);
  const int hw = W / H;
  const int nunits = v == RotVariant::LowRank ? B * num_blocks(W) : B * H;
#pragma omp parallel for schedule(static) if (long(B) * Tn * W * Lv >= kMinParallelWork)
  for (int slot = 0; slot < slots; slot++) {
    T* S = work + size_t(slot) * ss;
    if (v == RotVariant::Dynamic) std::memset(S + size_t(Lv + 1) * Tn * hw, 0, size_t(Lv) * hw * sizeof(T));
    for (int u = slot; u < nunits; u += slots) {
      if (v == RotVariant::LowRank) {
        const int nblk = num_blocks(W), b = u / nblk, c0 = (u % nblk) * kBlock, n = std::min(kBlock, W - c0);
        const T* tab = saved + size_t(u) * Lv * Tn * 2 * kBlock;
        auto phases = [tab, Tn](int l, int t, const T*& cs, const T*& sn) {
          cs = tab + (size_t(l) * Tn + t) * 2 * kBlock;
          sn = cs + kBlock;
        };
        T* G = S + size_t(Lv) * Tn * kBlock;
        const size_t row = size_t(b) * Tn * W + c0;
        T* dphi = dphase + size_t(b) * Tn * Lv * W + c0;
        gather_rows(S, kBlock, theta0 + row, W, n, Tn);
        gather_rows(G, kBlock, dout + row, W, n, Tn);
        if (n == kBlock) {
          recompute_states<T, kBlock, true>(S, kBlock, n, Tn, Lv, c, phases);
          levels_backward<T, kBlock, true>(G, dphi, W, S, n, Tn, Lv, c, phases);
        } else {
          recompute_states<T, 0, true>(S, kBlock, n, Tn, Lv, c, phases);
          levels_backward<T, 0, true>(G, dphi, W, S, n, Tn, Lv, c, phases);
        }
        scatter_add_rows(dtheta0 + row, W, G, kBlock, n, Tn);
      } else if (v == RotVariant::HeadPhase) {
        // one head, its channels in blocks of 16 one after the other (they add to the same ∂φ)
        const int b = u / H, h = u % H;
        const T* tab = saved + size_t(u) * Lv * 2 * Tn;
        auto phases = [tab, Tn](int l, int t, const T*& cs, const T*& sn) {
          cs = tab + size_t(l) * 2 * Tn + t;
          sn = cs + Tn;
        };
        T* G = S + size_t(Lv) * Tn * kBlock;
        T* dphi = dphase + size_t(b) * Tn * Lv * H + h;
        for (int k0 = 0; k0 < hw; k0 += kBlock) {
          const int n = std::min(kBlock, hw - k0);
          const size_t row = size_t(b) * Tn * W + size_t(h) * hw + k0;
          gather_rows(S, kBlock, theta0 + row, W, n, Tn);
          gather_rows(G, kBlock, dout + row, W, n, Tn);
          if (n == kBlock) {
            recompute_states<T, kBlock, false>(S, kBlock, n, Tn, Lv, c, phases);
            levels_backward<T, kBlock, false>(G, dphi, H, S, n, Tn, Lv, c, phases);
          } else {
            recompute_states<T, 0, false>(S, kBlock, n, Tn, Lv, c, phases);
            levels_backward<T, 0, false>(G, dphi, H, S, n, Tn, Lv, c, phases);
          }
          scatter_add_rows(dtheta0 + row, W, G, kBlock, n, Tn);
        }
      } else {
        const int b = u / H, h = u % H;
        const T* tab = saved + size_t(u) * Lv * 3 * Tn;
        auto phases = [tab, Tn](int l, int t, const T*& cs, const T*& sn) {
          cs = tab + size_t(l) * 3 * Tn + t;
          sn = cs + Tn;
        };
        T* G = S + size_t(Lv) * Tn * hw;
        T* dw = G + size_t(Tn) * hw;
        const size_t row = size_t(b) * Tn * W + size_t(h) * hw;
        gather_rows(S, hw, theta0 + row, W, hw, Tn);
        gather_rows(G, hw, dout + row, W, hw, Tn);
        recompute_states<T, 0, false>(S, hw, hw, Tn, Lv, c, phases);
        dynamic_backward_unit(G, dw, S, tab, phase, hw, Tn, Lv, c);
        scatter_add_rows(dtheta0 + row, W, G, hw, hw, Tn);
      }
    }
  }
  if (v == RotVariant::Dynamic) {
    // each slot's private ∂w, added in slot order (deterministic for a given slot count)
    for (int slot = 0; slot < slots; slot++) {
      const T* dw = work + size_t(slot) * ss + size_t(Lv + 1) * Tn * hw;
      for (size_t i = 0; i < size_t(Lv) * hw; i++) dphase[i] += dw[i];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// one-position step
// ---------------------------------------------------------------------------------------------

// Phases of one position: Lv·P from φ (LowRank, HeadPhase), or H at a time for the current level
// (Dynamic).
static int step_phases(RotVariant v, int W, int H, int Lv) {
  return v == RotVariant::Dynamic ? H : Lv * rot_phase_width(v, W, H);
}

size_t rot_scan_state_size(int W, int Lv, int max_len) {
  size_t n = 0;
  for (int l = 0; l < Lv && (1L << l) < max_len; l++) n += (size_t(1) << l) * W;
  return n;
}

size_t rot_scan_step_work_size(RotVariant v, int W, int H, int Lv) {
  return 2 * size_t(W) + 2 * size_t(step_phases(v, W, H, Lv));
}

// The level loop for one position: θ_{l+1} = c·(cos φ_l ⊙ θ_l + sin φ_l ⊙ θ_l[pos − 2^l]), the
// shifted state read from level l's ring before θ_l[pos] replaces it there.
// A stream's level update is a few hundred multiply-adds per level, plus reads from rings far apart
// in memory: worth a thread from a smaller total than the elementwise loops.
static constexpr long kMinStepStreamsWork = 1L << 12;

// next = c·(cs ⊙ θ + sn ⊙ prev) over n channels (prev null: the shifted term is zero); with one
// cos/sin shared by all n (level_update_shared) or one per channel (level_update).
template <typename T>
static inline void level_update(T* __restrict next, const T* __restrict theta, const T* __restrict prev,
                                const T* __restrict cs, const T* __restrict sn, T c, int n) {
  if (prev) {
#pragma omp simd
    for (int j = 0; j < n; j++) next[j] = c * (cs[j] * theta[j] + sn[j] * prev[j]);
  } else {
#pragma omp simd
    for (int j = 0; j < n; j++) next[j] = c * (cs[j] * theta[j] + T(0));
  }
}
template <typename T>
static inline void level_update_shared(T* __restrict next, const T* __restrict theta, const T* __restrict prev, T cs,
                                       T sn, T c, int n) {
  if (prev) {
#pragma omp simd
    for (int j = 0; j < n; j++) next[j] = c * (cs * theta[j] + sn * prev[j]);
  } else {
#pragma omp simd
    for (int j = 0; j < n; j++) next[j] = c * (cs * theta[j] + T(0));
  }
}

// Stream i of S whose rings are interleaved (rot_scan_step_batch's layout); S = 1, i = 0 is the
// one-stream layout.
template <typename T>
static void step_stream(T* out, T* state, T* work, const T* theta0, const T* phase, RotVariant v, int pos, int max_len,
                        int W, int H, int Lv, int S, int i) {
  assert(pos >= 0 && pos < max_len);
  const int nphase = step_phases(v, W, H, Lv);
  T* theta = work;
  T* next = theta + W;
  T* cs = next + W;
  T* sn = cs + nphase;
  std::memcpy(theta, theta0, size_t(W) * sizeof(T));
  if (v != RotVariant::Dynamic) rot_sincos(cs, sn, phase, nphase);
  const T c = T(rot_scale(v));
  const int hw = W / H;
  for (int l = 0; l < Lv; l++) {
    const long s = 1L << l;
    T* slot = s < max_len ? state + ((size_t(s) - 1) * S + size_t(pos & (s - 1)) * S + i) * W : nullptr;
    const T* prev = pos >= s ? slot : nullptr;  // θ_l[pos − s], stored s steps ago in this slot
    const T *cl = cs, *sl = sn;
    if (v == RotVariant::LowRank) {
      cl = cs + size_t(l) * W;
      sl = sn + size_t(l) * W;
    } else if (v == RotVariant::HeadPhase) {
      cl = cs + size_t(l) * H;
      sl = sn + size_t(l) * H;
    } else {
      dynamic_phases_one(cs, sn, phase + size_t(l) * hw, theta, H, hw);
    }
    // one cos/sin per channel (LowRank) or per head of hw channels, in loops without branches
    if (v == RotVariant::LowRank)
      level_update(next, theta, prev, cl, sl, c, W);
    else
      for (int h = 0; h < W / hw; h++)
        level_update_shared(next + size_t(h) * hw, theta + size_t(h) * hw, prev ? prev + size_t(h) * hw : nullptr,
                            cl[h], sl[h], c, hw);
    if (slot) std::memcpy(slot, theta, size_t(W) * sizeof(T));
    std::swap(theta, next);
  }
  std::memcpy(out, theta, size_t(W) * sizeof(T));
}

template <typename T>
void rot_scan_step(T* out, T* state, T* work, const T* theta0, const T* phase, RotVariant v, int pos, int max_len,
                   int W, int H, int Lv) {
  step_stream(out, state, work, theta0, phase, v, pos, max_len, W, H, Lv, 1, 0);
}

// Streams in order over interleaved rings: at a given position and level the S slots are adjacent,
// so the streams walk memory forwards instead of each jumping into its own ring far away.
template <typename T>
void rot_scan_step_batch(T* out, T* state, T* work, const T* theta0, const T* phase, RotVariant v, int pos,
                         int max_len, int W, int H, int Lv, int S, int first, int count) {
  const size_t wsize = rot_scan_step_work_size(v, W, H, Lv);
  const size_t per_phase = v == RotVariant::Dynamic ? 0 : size_t(Lv) * rot_phase_width(v, W, H);
#pragma omp parallel for schedule(static) if (long(count) * W * std::max(Lv, 1) >= kMinStepStreamsWork)
  for (int i = first; i < first + count; i++)
    step_stream(out + size_t(i) * W, state, work + size_t(i) * wsize, theta0 + size_t(i) * W,
                phase + size_t(i) * per_phase, v, pos, max_len, W, H, Lv, S, i);
}

template <typename T>
void rot_scan_store_stream(T* streams, const T* state, int W, int Lv, int max_len, int S, int i) {
  for (int l = 0; l < Lv && (1L << l) < max_len; l++) {
    const size_t s = size_t(1) << l;
    for (size_t slot = 0; slot < s; slot++)
      std::memcpy(streams + ((s - 1) * S + slot * S + i) * W, state + (s - 1 + slot) * W, size_t(W) * sizeof(T));
  }
}

#define SPECTRAL_ROT_INSTANTIATE(T)                                                                          \
  template void rot_scan_forward<T>(T*, T*, T*, const T*, const T*, RotVariant, int, int, int, int, int, int, T*, int); \
  template void rot_scan_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, RotVariant, int, int, \
                                     int, int, int, int);                                                    \
  template void rot_scan_step<T>(T*, T*, T*, const T*, const T*, RotVariant, int, int, int, int, int);    \
  template void rot_scan_step_batch<T>(T*, T*, T*, const T*, const T*, RotVariant, int, int, int, int, int, int, int, \
                                       int);                                                                        \
  template void rot_scan_store_stream<T>(T*, const T*, int, int, int, int, int);                                  \

SPECTRAL_ROT_INSTANTIATE(float)
SPECTRAL_ROT_INSTANTIATE(double)
#undef SPECTRAL_ROT_INSTANTIATE

}  // namespace spectral
