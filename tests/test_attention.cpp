// Causal (sliding-window) softmax attention: the blocked gemm op equals the naive masked T×T
// reference, its backward matches finite differences, its one-position step over a key/value cache
// reproduces the forward at every position, and the `attention` / `local` mixer layers pass the
// shared mixer checks; `local` sees exactly the last window positions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "mixer_checks.h"
#include "ops/attention.h"

using namespace spectral;
using namespace spectral::testing;

namespace {
struct AttnCase {
  int B, T, C, H, window;
};

std::string describe(const AttnCase& a) {
  return "B=" + std::to_string(a.B) + " T=" + std::to_string(a.T) + " C=" + std::to_string(a.C) +
         " H=" + std::to_string(a.H) + " window=" + std::to_string(a.window);
}
}  // namespace

// ============================================================================ op: fast == naive

TEST(Attention, EqualsNaiveMaskedReference) {
  static_assert(kAttentionBlock == 64, "the shapes below straddle 64-query blocks");
  std::mt19937 rng(20);
  const AttnCase cases[] = {
      {1, 1, 4, 1, 1},     {1, 1, 4, 2, 100},   {2, 5, 6, 2, 3},    {2, 7, 8, 2, 1},    {1, 7, 8, 4, 7},
      {2, 64, 8, 2, 3},    {1, 65, 8, 2, 65},   {2, 70, 16, 4, 3},  {1, 150, 12, 3, 70}, {2, 130, 8, 2, 1000},
      {1, 200, 16, 4, 64}, {1, 200, 16, 4, 1},  {1, 129, 6, 1, 65},
      // large enough for the (batch, head) loop to run in parallel
      {3, 300, 32, 4, 1000}, {2, 257, 64, 2, 33},
  };
  for (const AttnCase& a : cases) {
    const size_t n_in = (size_t)a.B * a.T * 3 * a.C, n_out = (size_t)a.B * a.T * a.C;
    auto qkv = random_vector(n_in, rng);
    std::vector<double> ref(n_out);
    attention_naive_forward(ref.data(), qkv.data(), a.B, a.T, a.C, a.H, a.window);

    std::vector<double> yd(n_out), sd(attention_saved_size(a.B, a.T, a.C, a.H, a.window));
    attention_forward(yd.data(), sd.data(), qkv.data(), a.B, a.T, a.C, a.H, a.window);
    EXPECT_LT(rel_error(yd, ref), 1e-12) << describe(a);

    std::vector<float> qf(qkv.begin(), qkv.end()), yf(n_out), sf(attention_saved_size(a.B, a.T, a.C, a.H, a.window));
    attention_forward(yf.data(), sf.data(), qf.data(), a.B, a.T, a.C, a.H, a.window);
    EXPECT_LT(rel_error_of(yf.data(), ref.data(), n_out), 1e-5) << describe(a);

    // the float reference agrees too (it accumulates in double)
    std::vector<float> rf(n_out);
    attention_naive_forward(rf.data(), qf.data(), a.B, a.T, a.C, a.H, a.window);
    EXPECT_LT(rel_error_of(rf.data(), ref.data(), n_out), 1e-6) << describe(a);
  }
}

// The window bounds memory: saved probabilities are O(T·(window+block)), not O(T²).
TEST(Attention, SavedSizeScalesWithWindow) {
  const int T = 4096, C = 256, H = 4, w = 128;
  EXPECT_LE(attention_saved_size(1, T, C, H, w), (size_t)H * T * (w + kAttentionBlock));
  EXPECT_GE(attention_saved_size(1, T, C, H, T), (size_t)H * T * (T + 1) / 2);
  EXPECT_EQ(attention_saved_size(1, T, C, H, T), attention_saved_size(1, T, C, H, 10 * T));
  EXPECT_EQ(attention_saved_size(3, T, C, H, w), 3 * attention_saved_size(1, T, C, H, w));
  EXPECT_LE(attention_scratch_size(1, T, C, H, w), (size_t)H * kAttentionBlock * (w + kAttentionBlock));
}

// ============================================================================ op: gradient

TEST(Attention, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(21);
  const AttnCase cases[] = {{2, 5, 6, 2, 3}, {1, 7, 8, 2, 100}, {2, 7, 6, 3, 7}, {1, 5, 4, 1, 1},
                            {1, 70, 4, 2, 20}, {1, 67, 4, 1, 67}};
  for (const AttnCase& a : cases) {
    const size_t n_in = (size_t)a.B * a.T * 3 * a.C, n_out = (size_t)a.B * a.T * a.C;
    auto qkv = random_vector(n_in, rng), g = random_vector(n_out, rng);
    std::vector<double> y(n_out), saved(attention_saved_size(a.B, a.T, a.C, a.H, a.window));
    auto loss = [&] {
      attention_forward(y.data(), saved.data(), qkv.data(), a.B, a.T, a.C, a.H, a.window);
      return dot(y, g);
    };
    loss();
    // backward accumulates: start from a nonzero gradient and subtract it afterwards
    auto base = random_vector(n_in, rng);
    std::vector<double> dqkv = base, scratch(attention_scratch_size(a.B, a.T, a.C, a.H, a.window));
    attention_backward(dqkv.data(), scratch.data(), g.data(), qkv.data(), saved.data(), a.B, a.T, a.C, a.H, a.window);
    for (size_t i = 0; i < n_in; i++) dqkv[i] -= base[i];
    EXPECT_LT(rel_error(dqkv, numeric_grad(loss, qkv.data(), n_in)), kGradTol) << describe(a);
  }
}

// Shapes too large for an element-wise finite-difference check (and large enough for the parallel
// path): the directional derivative along random directions r, (L(x+εr) − L(x−εr)) / 2ε, equals
// ⟨∂L/∂x, r⟩.
TEST(Attention, GradientMatchesDirectionalDerivativesAtLargerShapes) {
  std::mt19937 rng(23);
  for (const AttnCase& a : {AttnCase{2, 150, 32, 4, 40}, AttnCase{3, 131, 24, 2, 131}}) {
    const size_t n_in = (size_t)a.B * a.T * 3 * a.C, n_out = (size_t)a.B * a.T * a.C;
    auto qkv = random_vector(n_in, rng), g = random_vector(n_out, rng);
    std::vector<double> y(n_out), saved(attention_saved_size(a.B, a.T, a.C, a.H, a.window));
    auto loss = [&](const std::vector<double>& x) {
      attention_forward(y.data(), saved.data(), x.data(), a.B, a.T, a.C, a.H, a.window);
      return dot(y, g);
    };
    loss(qkv);
    std::vector<double> dqkv(n_in, 0.0), scratch(attention_scratch_size(a.B, a.T, a.C, a.H, a.window));
    attention_backward(dqkv.data(), scratch.data(), g.data(), qkv.data(), saved.data(), a.B, a.T, a.C, a.H, a.window);
    for (int dir = 0; dir < 3; dir++) {
      auto r = random_vector(n_in, rng);
      const double eps = 1e-6;
      std::vector<double> up = qkv, down = qkv;
      for (size_t i = 0; i < n_in; i++) {
        up[i] += eps * r[i];
        down[i] -= eps * r[i];
      }
      const double numeric = (loss(up) - loss(down)) / (2 * eps), analytic = dot(dqkv, r);
      EXPECT_LT(std::fabs(numeric - analytic) / std::max(std::fabs(numeric), std::fabs(analytic)), kGradTol)
          << describe(a) << " direction " << dir;
    }
  }
}

// ============================================================================ op: step == forward

// Feeding the positions one at a time through attention_step (one cache per sequence) gives row t
// of attention_forward at every t. Cache rows not yet fed and the scratch start as NaN, so reading
// them would show.
template <typename T>
static double worst_step_error(const AttnCase& a, const std::vector<double>& qkv_d) {
  const size_t n_out = (size_t)a.B * a.T * a.C;
  const std::vector<T> qkv(qkv_d.begin(), qkv_d.end());
  std::vector<T> full(n_out), saved(attention_saved_size(a.B, a.T, a.C, a.H, a.window));
  attention_forward(full.data(), saved.data(), qkv.data(), a.B, a.T, a.C, a.H, a.window);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  double worst = 0;
  for (int b = 0; b < a.B; b++) {
    std::vector<T> kv((size_t)a.T * 2 * a.C, nan), scores(attention_step_scratch_size(a.T, a.window, a.H), nan), row(a.C);
    for (int t = 0; t < a.T; t++) {
      const size_t r = (size_t)b * a.T + t;
      attention_step(row.data(), kv.data(), scores.data(), qkv.data() + r * 3 * a.C, t, a.C, a.H, a.window);
      const double e = rel_error_of(row.data(), full.data() + r * a.C, a.C);
      if (std::isnan(e)) return e;  // std::max would drop a NaN row
      worst = std::max(worst, e);
    }
  }
  return worst;
}

TEST(Attention, StepOverCacheEqualsForwardAtEveryPosition) {
  std::mt19937 rng(24);
  // odd sizes and head counts, windows shorter than, equal to and longer than T, T straddling the
  // forward's 64-query blocks
  const AttnCase cases[] = {{1, 1, 4, 1, 1},  {2, 5, 6, 2, 3},   {1, 7, 9, 3, 100}, {2, 7, 8, 4, 1},
                            {1, 13, 5, 1, 13}, {1, 70, 12, 3, 70}, {2, 67, 10, 5, 7}, {1, 130, 6, 2, 65}};
  for (const AttnCase& a : cases) {
    const auto qkv = random_vector((size_t)a.B * a.T * 3 * a.C, rng);
    EXPECT_LE(worst_step_error<double>(a, qkv), 1e-12) << describe(a);
    EXPECT_LE(worst_step_error<float>(a, qkv), 1e-5) << describe(a);
  }
}

// ============================================================================ mixer layers

TEST(AttentionMixer, GradientMatchesFiniteDifferences) {
  auto cfg = small_model_config(6, 2, 9);
  std::string worst;
  EXPECT_LT(mixer_gradient_error("attention", cfg, 2, 7, &worst), kGradTol) << worst;
  auto cfg3 = small_model_config(6, 3, 7);
  EXPECT_LT(mixer_gradient_error("attention", cfg3, 1, 5, &worst), kGradTol) << worst;
}

TEST(LocalMixer, GradientMatchesFiniteDifferences) {
  auto cfg = small_model_config(6, 2, 9);
  cfg.local.window = 3;
  std::string worst;
  EXPECT_LT(mixer_gradient_error("local", cfg, 2, 7, &worst), kGradTol) << worst;
  // several query blocks, the window straddling a block boundary
  auto wide = small_model_config(4, 2, 80);
  wide.local.window = 5;
  EXPECT_LT(mixer_gradient_error("local", wide, 1, 67, &worst), kGradTol) << worst;
}

TEST(AttentionMixer, IsCausal) {
  auto cfg = small_model_config(16, 2, 100);
  for (int t0 : {1, 20, 63, 64, 99}) EXPECT_LT(mixer_causality_leak("attention", cfg, 2, 100, t0), 1e-5) << "t0=" << t0;
}

TEST(LocalMixer, IsCausal) {
  auto cfg = small_model_config(16, 2, 100);
  cfg.local.window = 8;
  for (int t0 : {1, 20, 63, 64, 99}) EXPECT_LT(mixer_causality_leak("local", cfg, 2, 100, t0), 1e-5) << "t0=" << t0;
}

TEST(AttentionMixer, IncrementalStepAndPrefillEqualFullForward) {
  auto cfg = small_model_config(16, 2, 200);
  EXPECT_LE(mixer_incremental_error("attention", cfg, 200), 1e-4);
  EXPECT_LE(mixer_prefill_error("attention", cfg, 90), 1e-4);
}

TEST(LocalMixer, IncrementalStepAndPrefillEqualFullForward) {
  auto cfg = small_model_config(16, 2, 200);
  cfg.local.window = 32;
  EXPECT_LE(mixer_incremental_error("local", cfg, 200), 1e-4);
  EXPECT_LE(mixer_prefill_error("local", cfg, 90), 1e-4);
}

// Output t of `local` with window w depends on inputs t−w+1 … t only: changing position t−w leaves
// it unchanged, changing t−w+1 moves it.
TEST(LocalMixer, WindowIgnoresOlderKeys) {
  const int Tn = 100, w = 5;
  auto cfg = small_model_config(8, 2, Tn);
  cfg.local.window = w;
  MixerRig<float> rig("local", cfg, 1, Tn);
  std::mt19937 rng(22);
  auto xd = random_vector((size_t)Tn * cfg.d_model, rng);
  const std::vector<float> x(xd.begin(), xd.end());
  const auto y = rig.forward(x);
  auto row_change = [&](int changed, int t) {
    std::vector<float> x2 = x;
    for (int c = 0; c < cfg.d_model; c++) x2[(size_t)changed * cfg.d_model + c] += 2.0f;
    auto y2 = rig.forward(x2);
    return rel_error_of(y2.data() + (size_t)t * cfg.d_model, y.data() + (size_t)t * cfg.d_model, cfg.d_model);
  };
  for (int t : {w, 10, 63, 64, 67, 68, 99}) {
    EXPECT_LT(row_change(t - w, t), 1e-6) << "t=" << t << ": position t-w leaked in";
    EXPECT_GT(row_change(t - w + 1, t), 1e-3) << "t=" << t << ": position t-w+1 ignored";
  }
}

// attention_step_batch over S streams at once (each with its own cache and scratch) gives, bit for
// bit, what attention_step gives on each stream alone, at every position; with enough streams and
// positions for the streams to run in parallel too.
TEST(Attention, BatchedStepEqualsOneStepPerStream) {
  std::mt19937 rng(33);
  const AttnCase cases[] = {{3, 9, 6, 2, 4}, {4, 20, 12, 3, 100}, {64, 40, 16, 2, 40}};
  for (const AttnCase& a : cases) {
    const int S = a.B, max_len = a.T + 2;
    const auto qd = random_vector((size_t)S * a.T * 3 * a.C, rng);
    const std::vector<float> qkv(qd.begin(), qd.end());
    const size_t kvs = (size_t)max_len * 2 * a.C, ss = attention_step_scratch_size(max_len, a.window, a.H);
    std::vector<float> kv1(S * kvs), sc1(ss), kvb(S * kvs), scb(S * ss), q((size_t)S * 3 * a.C), one((size_t)S * a.C),
        batch((size_t)S * a.C);
    for (int t = 0; t < a.T; t++) {
      for (int i = 0; i < S; i++) {
        std::copy_n(qkv.data() + ((size_t)i * a.T + t) * 3 * a.C, 3 * a.C, q.data() + (size_t)i * 3 * a.C);
        attention_step(one.data() + (size_t)i * a.C, kv1.data() + i * kvs, sc1.data(), q.data() + (size_t)i * 3 * a.C, t,
                       a.C, a.H, a.window);
      }
      attention_step_batch(batch.data(), kvb.data(), kvs, scb.data(), ss, q.data(), t, a.C, a.H, a.window, S);
      ASSERT_EQ(batch, one) << describe(a) << " t=" << t;
    }
  }
}
