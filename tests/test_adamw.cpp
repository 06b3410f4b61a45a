// AdamW (train/adamw): single updates against a float64 hand computation of
//   g = scale·grad ;  m = β1·m + (1−β1)·g ;  v = β2·v + (1−β2)·g²
//   p −= lr·( m/(1−β1^t) / (sqrt(v/(1−β2^t)) + 1e-8) ) + lr·wd·p   (the last term only for tensors with decay)
// at the first step (moments zero) and at a later one (moments given), with the gradient scaled by a
// clipping factor computed from the global gradient norm; and the global norm itself.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "config/config.h"
#include "model/params.h"
#include "train/adamw.h"

using namespace spectral;

namespace {

constexpr double kEps = 1e-8;  // AdamW's epsilon (added to sqrt(v̂))

// Four tensors, decayed and not, interleaved in the arena.
ParamLayout test_layout() {
  ParamLayout L;
  L.add("wte", {5, 3}, Init::Normal, 0.02, true);
  L.add("norm.weight", {4}, Init::Ones, 0, false);
  L.add("w", {2, 3}, Init::Normal, 0.02, true);
  L.add("pos", {3}, Init::Normal, 0.02, false);
  return L;
}

TrainConfig test_config() {
  TrainConfig t = default_config().train;
  t.beta1 = 0.9;
  t.beta2 = 0.95;  // β1 and β2 such that (1−β1)/sqrt(1−β2) != 1: the first step shows the bias correction
  t.weight_decay = 0.3;
  return t;
}

// The updated values, and for each the size of the terms that made it (float rounding scales with
// those, not with the result, when terms cancel).
struct Reference {
  std::vector<double> p, m, v;
  std::vector<double> p_terms, m_terms, v_terms;
};

// The update in double, element by element; decay[i] says whether element i's tensor decays.
Reference reference_update(const std::vector<float>& p0, const std::vector<float>& g, const std::vector<float>& m0,
                           const std::vector<float>& v0, const std::vector<bool>& decay, const TrainConfig& t,
                           double lr, int step, double scale) {
  Reference r;
  const size_t n = p0.size();
  for (auto* x : {&r.p, &r.m, &r.v, &r.p_terms, &r.m_terms, &r.v_terms}) x->resize(n);
  const double c1 = 1 - std::pow(t.beta1, step), c2 = 1 - std::pow(t.beta2, step);
  for (size_t i = 0; i < n; i++) {
    const double gi = scale * double(g[i]);
    r.m[i] = t.beta1 * m0[i] + (1 - t.beta1) * gi;
    r.v[i] = t.beta2 * v0[i] + (1 - t.beta2) * gi * gi;
    const double adam = (r.m[i] / c1) / (std::sqrt(r.v[i] / c2) + kEps);
    const double wd = decay[i] ? lr * t.weight_decay * p0[i] : 0.0;
    r.p[i] = double(p0[i]) - lr * adam - wd;
    r.m_terms[i] = t.beta1 * std::fabs(m0[i]) + (1 - t.beta1) * std::fabs(gi);
    r.v_terms[i] = t.beta2 * v0[i] + (1 - t.beta2) * gi * gi;
    r.p_terms[i] = lr * (r.m_terms[i] / c1) / (std::sqrt(r.v[i] / c2) + kEps) + std::fabs(wd);
  }
  return r;
}

std::vector<bool> decay_flags(const ParamLayout& L) {
  std::vector<bool> d(L.total(), false);
  for (const auto& s : L.specs())
    for (size_t i = 0; i < s.size; i++) d[s.offset + i] = s.decay;
  return d;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, double mean, double std) {
  std::normal_distribution<double> dist(mean, std);
  std::vector<float> x(n);
  for (float& v : x) v = float(dist(rng));
  return x;
}

// Compares the float update with the reference: parameters within float rounding of p plus 1e-5 of
// the size of the step's terms, moments within 1e-6 of the size of their terms.
void expect_matches(const std::vector<float>& p, const AdamW& opt, const std::vector<float>& p0, const Reference& r,
                    const ParamLayout& L, const std::string& what) {
  for (const auto& s : L.specs())
    for (size_t k = 0; k < s.size; k++) {
      const size_t i = s.offset + k;
      const std::string at = what + ": " + s.name + "[" + std::to_string(k) + "]";
      EXPECT_NEAR(p[i], r.p[i], 1.2e-7 * std::fabs(r.p[i]) + 1e-5 * r.p_terms[i]) << at;
      EXPECT_NEAR(opt.m[i], r.m[i], 1e-6 * r.m_terms[i]) << "m of " << at;
      EXPECT_NEAR(opt.v[i], r.v[i], 1e-6 * r.v_terms[i]) << "v of " << at;
    }
}

}  // namespace

// The global gradient norm is sqrt(Σ g²), accumulated in double.
TEST(AdamW, GlobalGradNormIsTheEuclideanNorm) {
  std::mt19937 rng(1);
  const auto g = random_floats(1001, rng, 0.0, 3.0);
  double ss = 0;
  for (float x : g) ss += double(x) * x;
  EXPECT_NEAR(global_grad_norm(g), std::sqrt(ss), 1e-12 * std::sqrt(ss));
  EXPECT_EQ(global_grad_norm(std::vector<float>{3.0f, -4.0f}), 5.0);
}

// Step 1 from zero moments: m̂ = g and v̂ = g², so the Adam term is g/(|g| + 1e-8) ≈ ±1 — for the
// gradients of size 1e-8 it is ±1/2, which shows where the epsilon goes.
TEST(AdamW, FirstUpdateMatchesFloat64HandComputation) {
  const ParamLayout L = test_layout();
  const TrainConfig t = test_config();
  std::mt19937 rng(2);
  const auto p0 = random_floats(L.total(), rng, 0.5, 1.0);
  auto g = random_floats(L.total(), rng, 0.0, 2.0);
  g[1] = 1e-8f;
  g[L.find("pos")->offset] = -1e-8f;
  AdamW opt(L, t);
  std::vector<float> p = p0;
  const double lr = 3e-3;
  const std::vector<float> zeros(L.total(), 0.f);
  const Reference r = reference_update(p0, g, zeros, zeros, decay_flags(L), t, lr, 1, 1.0);
  opt.update(p, g, lr, 1, 1.0);
  expect_matches(p, opt, p0, r, L, "step 1");
  // the hand numbers at a glance: a decayed element moves by lr·(sign(g) + wd·p), one without decay
  // by lr·sign(g)
  const size_t w = L.find("w")->offset, n = L.find("norm.weight")->offset;
  EXPECT_NEAR(p0[w] - p[w], lr * ((g[w] > 0 ? 1 : -1) + t.weight_decay * p0[w]), 5e-7);
  EXPECT_NEAR(p0[n] - p[n], lr * (g[n] > 0 ? 1 : -1), 5e-7);
}

// A later step (t = 5) with moments already built up, and a gradient clipped to norm 1: the clip
// factor scales g before it enters the moments.
TEST(AdamW, LaterClippedUpdateMatchesFloat64HandComputation) {
  const ParamLayout L = test_layout();
  const TrainConfig t = test_config();
  std::mt19937 rng(3);
  const auto p0 = random_floats(L.total(), rng, 0.0, 1.0);
  const auto g = random_floats(L.total(), rng, 0.0, 2.0);
  const auto m0 = random_floats(L.total(), rng, 0.0, 0.1);
  auto v0 = random_floats(L.total(), rng, 0.0, 0.05);
  for (float& x : v0) x = x * x;  // second moments are non-negative
  const double clip = 1.0, norm = global_grad_norm(g);
  ASSERT_GT(norm, 2 * clip);  // the clip is active
  const double scale = clip / norm, lr = 7e-3;
  AdamW opt(L, t);
  opt.m = m0;
  opt.v = v0;
  std::vector<float> p = p0;
  const Reference r = reference_update(p0, g, m0, v0, decay_flags(L), t, lr, 5, scale);
  opt.update(p, g, lr, 5, scale);
  expect_matches(p, opt, p0, r, L, "step 5");
  // and a second update continues from the moments the first left
  const auto g2 = random_floats(L.total(), rng, 0.0, 1.0);
  const std::vector<float> p1 = p, m1 = opt.m, v1 = opt.v;
  const Reference r2 = reference_update(p1, g2, m1, v1, decay_flags(L), t, lr, 6, 1.0);
  opt.update(p, g2, lr, 6, 1.0);
  expect_matches(p, opt, p1, r2, L, "step 6");
}

// Zero gradients and zero moments: only weight decay moves the parameters, and only those of the
// tensors with decay, each by exactly lr·wd·p.
TEST(AdamW, DecayIsDecoupledAndOnlyOnDecayedTensors) {
  const ParamLayout L = test_layout();
  const TrainConfig t = test_config();
  std::mt19937 rng(4);
  const auto p0 = random_floats(L.total(), rng, 1.0, 0.5);
  const std::vector<float> g(L.total(), 0.f);
  AdamW opt(L, t);
  std::vector<float> p = p0;
  const double lr = 0.01;
  opt.update(p, g, lr, 3, 1.0);
  for (const auto& s : L.specs())
    for (size_t k = 0; k < s.size; k++) {
      const size_t i = s.offset + k;
      const double expected = s.decay ? p0[i] * (1 - lr * t.weight_decay) : p0[i];
      EXPECT_NEAR(p[i], expected, 1.2e-7 * std::fabs(expected)) << s.name << "[" << k << "]";
    }
}
