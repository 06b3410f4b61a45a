// attention: blocked causal (sliding-window) softmax attention through gemm, the naive reference,
// and the one-position step over a key/value cache.
// Each (batch, head) pair is one OpenMP job; within it, query blocks run in order. A block of rows
// queries [t0, t0+rows) sees keys [s0, t0+rows) with s0 = max(0, t0−window+1); its scores are one
// gemm (rows × keys), masked entries get probability 0, and the output is a second gemm.
// Inside the OpenMP loop ops/gemm calls OpenBLAS on the calling thread. Every product is also tiled
// to at most block × block × head_size: OpenBLAS (pthreads build) runs products of at most 64³
// multiply-adds on the calling thread even when its own pool is larger (before util/threads has
// set it to one thread), so the OpenBLAS pool is never woken from inside OpenMP threads, which
// measured 5–30× slower on 2 cores. Tiling costs nothing measurable otherwise.
#include "ops/attention.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ops/fast_math.h"
#include "ops/gemm.h"
#include "util/threads.h"

namespace spectral {

namespace {

// One query block and the range of keys it can see.
struct Block {
  int t0, rows;  // queries [t0, t0+rows)
  int s0, keys;  // keys [s0, s0+keys), s0+keys = t0+rows
};

// Below this many multiply-adds per product (B·H·saved·hs) the (b,h) loop runs on one thread: an
// OpenMP fork/join costs more than the work, and far more when the cores are oversubscribed.
constexpr double kParallelMin = 1 << 18;

// window is already clamped to [1, Tn].
inline Block block_at(int t0, int Tn, int window) {
  Block k;
  k.t0 = t0;
  k.rows = std::min(kAttentionBlock, Tn - t0);
  k.s0 = std::max(0, t0 - window + 1);
  k.keys = t0 + k.rows - k.s0;
  return k;
}

// Visible keys of query row i of block k, as column indices [lo, hi] into the block's score rows.
inline void visible(const Block& k, int i, int window, int& lo, int& hi) {
  const int t = k.t0 + i;
  hi = t - k.s0;
  lo = std::max(0, t - window + 1 - k.s0);
}

inline int clamp_window(int window, int Tn) {
  assert(window >= 1 && "attention: window must be >= 1");
  return std::min(window, Tn);
}

// Probabilities saved per (b,h): Σ over blocks of rows·keys.
size_t head_saved_size(int Tn, int window) {
  size_t n = 0;
  for (int t0 = 0; t0 < Tn; t0 += kAttentionBlock) {
    Block k = block_at(t0, Tn, window);
    n += (size_t)k.rows * k.keys;
  }
  return n;
}

// Largest single block (rows·keys).
size_t head_block_max(int Tn, int window) {
  size_t n = 0;
  for (int t0 = 0; t0 < Tn; t0 += kAttentionBlock) {
    Block k = block_at(t0, Tn, window);
    n = std::max(n, (size_t)k.rows * k.keys);
  }
  return n;
}

}  // namespace

size_t attention_saved_size(int B, int Tn, int C, int H, int window) {
  return (size_t)B * H * head_saved_size(Tn, clamp_window(window, Tn));
}

size_t attention_scratch_size(int B, int Tn, int C, int H, int window) {
  return (size_t)B * H * head_block_max(Tn, clamp_window(window, Tn));
}

template <typename T>
void attention_forward(T* out, T* probs, const T* qkv, int B, int Tn, int C, int H, int window) {
  assert(C % H == 0);
  window = clamp_window(window, Tn);
  const int hs = C / H, C3 = 3 * C;
  const T scale = T(1.0 / std::sqrt(double(hs)));
  const size_t per_head = head_saved_size(Tn, window);
  const bool parallel = double(B) * H * per_head * hs >= kParallelMin;
#pragma omp parallel for schedule(static) if (parallel)
  for (int job = 0; job < B * H; job++) {
    const int b = job / H, h = job % H;
    const T* q = qkv + (size_t)b * Tn * C3 + (size_t)h * hs;
    const T* kk = q + C;
    const T* v = q + 2 * C;
    T* o = out + (size_t)b * Tn * C + (size_t)h * hs;
    T* P = probs + (size_t)job * per_head;
    for (int t0 = 0; t0 < Tn; t0 += kAttentionBlock) {
      const Block k = block_at(t0, Tn, window);
      // scores (rows, keys) = scale · Q_block · K_visible^T, one key tile at a time
      for (int j0 = 0; j0 < k.keys; j0 += kAttentionBlock) {
        const int nj = std::min(kAttentionBlock, k.keys - j0);
        gemm(false, true, k.rows, nj, hs, scale, q + (size_t)t0 * C3, C3, kk + (size_t)(k.s0 + j0) * C3, C3, T(0),
             P + j0, k.keys);
      }
      for (int i = 0; i < k.rows; i++) {
        T* row = P + (size_t)i * k.keys;
        int lo, hi;
        visible(k, i, window, lo, hi);
        T mx = row[lo];
#pragma omp simd reduction(max : mx)
        for (int j = lo + 1; j <= hi; j++) mx = std::max(mx, row[j]);
        double sum = 0;
        // exp_of: the vectorized float exponential (as the incremental step's softmax), double sum
#pragma omp simd reduction(+ : sum)
        for (int j = lo; j <= hi; j++) {
          row[j] = exp_of(row[j] - mx);
          sum += row[j];
        }
        const T inv = T(1.0 / sum);
        for (int j = 0; j < lo; j++) row[j] = T(0);
        for (int j = lo; j <= hi; j++) row[j] *= inv;
        for (int j = hi + 1; j < k.keys; j++) row[j] = T(0);
      }
      // out_block (rows, hs) = P · V_visible, accumulated over key tiles
      for (int j0 = 0; j0 < k.keys; j0 += kAttentionBlock) {
        const int nj = std::min(kAttentionBlock, k.keys - j0);
        gemm(false, false, k.rows, hs, nj, T(1), P + j0, k.keys, v + (size_t)(k.s0 + j0) * C3, C3,
             j0 == 0 ? T(0) : T(1), o + (size_t)t0 * C, C);
      }
      P += (size_t)k.rows * k.keys;
    }
  }
}

template <typename T>
void attention_backward(T* dqkv, T* scratch, const T* dout, const T* qkv, const T* probs, int B, int Tn, int C,
                        int H, int window) {
  assert(C % H == 0);
  window = clamp_window(window, Tn);
  const int hs = C / H, C3 = 3 * C;
  const T scale = T(1.0 / std::sqrt(double(hs)));
  const size_t per_head = head_saved_size(Tn, window), per_scratch = head_block_max(Tn, window);
  const bool parallel = double(B) * H * per_head * hs >= kParallelMin;
#pragma omp parallel for schedule(static) if (parallel)
  for (int job = 0; job < B * H; job++) {
    const int b = job / H, h = job % H;
    const size_t qoff = (size_t)b * Tn * C3 + (size_t)h * hs;
    const T* q = qkv + qoff;
    const T* kk = q + C;
    const T* v = q + 2 * C;
    T* dq = dqkv + qoff;
    T* dk = dq + C;
    T* dv = dq + 2 * C;
    const T* dO = dout + (size_t)b * Tn * C + (size_t)h * hs;
    const T* P = probs + (size_t)job * per_head;
    T* dS = scratch + (size_t)job * per_scratch;
    for (int t0 = 0; t0 < Tn; t0 += kAttentionBlock) {
      const Block k = block_at(t0, Tn, window);
      const T* dOb = dO + (size_t)t0 * C;
      // dP (rows, keys) = dO_block · V_visible^T ;  dV_visible += P^T · dO_block   (per key tile)
      for (int j0 = 0; j0 < k.keys; j0 += kAttentionBlock) {
        const int nj = std::min(kAttentionBlock, k.keys - j0);
        const size_t s = (size_t)(k.s0 + j0) * C3;
        gemm(false, true, k.rows, nj, hs, T(1), dOb, C, v + s, C3, T(0), dS + j0, k.keys);
        gemm(true, false, nj, hs, k.rows, T(1), P + j0, k.keys, dOb, C, T(1), dv + s, C3);
      }
      // softmax backward, in place: dS = P ⊙ (dP − Σ_j P·dP); masked entries have P = 0
      for (int i = 0; i < k.rows; i++) {
        const T* p = P + (size_t)i * k.keys;
        T* row = dS + (size_t)i * k.keys;
        int lo, hi;
        visible(k, i, window, lo, hi);
        double dot = 0;
        for (int j = lo; j <= hi; j++) dot += double(p[j]) * row[j];
        for (int j = 0; j < lo; j++) row[j] = T(0);
        for (int j = lo; j <= hi; j++) row[j] = p[j] * (row[j] - T(dot));
        for (int j = hi + 1; j < k.keys; j++) row[j] = T(0);
      }
      // dQ_block += scale · dS · K_visible ;  dK_visible += scale · dS^T · Q_block   (per key tile)
      for (int j0 = 0; j0 < k.keys; j0 += kAttentionBlock) {
        const int nj = std::min(kAttentionBlock, k.keys - j0);
        const size_t s = (size_t)(k.s0 + j0) * C3;
        gemm(false, false, k.rows, hs, nj, scale, dS + j0, k.keys, kk + s, C3, T(1), dq + (size_t)t0 * C3, C3);
        gemm(true, false, nj, hs, k.rows, scale, dS + j0, k.keys, q + (size_t)t0 * C3, C3, T(1), dk + s, C3);
      }
      P += (size_t)k.rows * k.keys;
    }
  }
}

template <typename T>
void attention_naive_forward(T* out, const T* qkv, int B, int Tn, int C, int H, int window) {
  const int hs = C / H, C3 = 3 * C;
  const double scale = 1.0 / std::sqrt(double(hs));
  const double ninf = -std::numeric_limits<double>::infinity();
  std::vector<double> S((size_t)Tn * Tn);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      const T* base = qkv + (size_t)b * Tn * C3 + (size_t)h * hs;
      for (int t = 0; t < Tn; t++)
        for (int s = 0; s < Tn; s++) {
          double acc = 0;
          for (int c = 0; c < hs; c++) acc += double(base[(size_t)t * C3 + c]) * base[(size_t)s * C3 + C + c];
          const bool seen = s <= t && s > t - window;
          S[(size_t)t * Tn + s] = seen ? acc * scale : ninf;
        }
      for (int t = 0; t < Tn; t++) {
        double* row = &S[(size_t)t * Tn];
        double mx = ninf, sum = 0;
        for (int s = 0; s < Tn; s++) mx = std::max(mx, row[s]);
        for (int s = 0; s < Tn; s++) sum += (row[s] = std::exp(row[s] - mx));
        for (int c = 0; c < hs; c++) {
          double acc = 0;
          for (int s = 0; s < Tn; s++) acc += row[s] / sum * base[(size_t)s * C3 + 2 * C + c];
          out[((size_t)b * Tn + t) * C + (size_t)h * hs + c] = T(acc);
        }
      }
    }
}

size_t attention_step_scratch_size(int max_len, int window, int H) {
  return (size_t)H * std::max(1, std::min(max_len, window));
}

// The scores (H, keys): per head a gemv over its keys (eight keys at a time); softmax per head (exponentials through exp_of, the
// vectorizable form for float; sums in double); then the values weighted by the probabilities,
// a tile of keys at a time (gemv_t_acc, its accumulators in registers).
template <typename T>
void attention_step(T* out, T* kv, T* scores, const T* qkv, int pos, int C, int H, int window) {
  assert(C % H == 0 && pos >= 0);
  assert(window >= 1 && "attention: window must be >= 1");
  const int hs = C / H;
  const T scale = T(1.0 / std::sqrt(double(hs)));
  std::memcpy(kv + (size_t)pos * 2 * C, qkv + C, sizeof(T) * 2 * C);
  const int s0 = std::max(0, pos - window + 1), nk = pos - s0 + 1;
  // scores of head h: its keys (nk rows of hs, 2C apart in the cache) times its query, a tile of
  // keys at a time for all heads, so that the cache is read once in order (a tile's rows stay in
  // L1/L2 while the heads take their slices of them)
  constexpr int kKeyTile = 64;
  for (int j0 = 0; j0 < nk; j0 += kKeyTile) {
    const int nj = std::min(kKeyTile, nk - j0);
    for (int h = 0; h < H; h++)
      gemv(scores + (size_t)h * nk + j0, kv + (size_t)(s0 + j0) * 2 * C + h * hs, 2 * C, qkv + h * hs,
           (const T*)nullptr, nj, hs);
  }
  for (int c = 0; c < C; c++) out[c] = T(0);
  for (int h = 0; h < H; h++) {
    T* sc = scores + (size_t)h * nk;
    T mx = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < nk; j++) mx = std::max(mx, sc[j]);
    double sum = 0;
    // softmax of scale · score (scale > 0: the largest score gives the largest scaled one)
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < nk; j++) {
      sc[j] = exp_of(scale * (sc[j] - mx));
      sum += sc[j];
    }
    const T inv = T(1.0 / sum);
#pragma omp simd
    for (int j = 0; j < nk; j++) sc[j] *= inv;
  }
  // out_h = Σ_j p_hj · v_j[h]: a tile of values at a time for all heads, as the scores read the keys
  for (int j0 = 0; j0 < nk; j0 += kKeyTile) {
    const int nj = std::min(kKeyTile, nk - j0);
    for (int h = 0; h < H; h++)
      gemv_t_acc(out + h * hs, kv + (size_t)(s0 + j0) * 2 * C + C + h * hs, 2 * C, scores + (size_t)h * nk + j0, nj, hs);
  }
}

template void attention_forward<float>(float*, float*, const float*, int, int, int, int, int);
template void attention_forward<double>(double*, double*, const double*, int, int, int, int, int);
template void attention_backward<float>(float*, float*, const float*, const float*, const float*, int, int, int,
                                        int, int);
template void attention_backward<double>(double*, double*, const double*, const double*, const double*, int, int,
                                         int, int, int);
template void attention_naive_forward<float>(float*, const float*, int, int, int, int, int);
template void attention_naive_forward<double>(double*, const double*, int, int, int, int, int);
template <typename T>
void attention_step_batch(T* out, T* kv, size_t kv_size, T* scores, size_t scores_size, const T* qkv, int pos, int C,
                          int H, int window, int S) {
  const long visible = std::min<long>(long(pos) + 1, window);
#pragma omp parallel for schedule(static) if (long(S) * visible * 2 * C >= kMinParallelWork)
  for (int i = 0; i < S; i++)
    attention_step(out + size_t(i) * C, kv + size_t(i) * kv_size, scores + size_t(i) * scores_size,
                   qkv + size_t(i) * 3 * C, pos, C, H, window);
}

template void attention_step<float>(float*, float*, float*, const float*, int, int, int, int);
template void attention_step_batch<float>(float*, float*, size_t, float*, size_t, const float*, int, int, int, int, int);
template void attention_step_batch<double>(double*, double*, size_t, double*, size_t, const double*, int, int, int,
                                           int, int);
template void attention_step<double>(double*, double*, double*, const double*, int, int, int, int);

}  // namespace spectral
