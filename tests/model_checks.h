// model_checks: whole-model checks shared by the model tests — finite-difference gradient of the
// mean loss w.r.t. every parameter tensor, causality of the logits, incremental == full forward.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "mixer_checks.h"
#include "model/model.h"

namespace spectral::testing {

inline ModelConfig tiny_model_config(std::vector<std::string> mixers, int d = 8, int heads = 2, int context = 8) {
  ModelConfig m = small_model_config(d, heads, context);
  m.n_layers = static_cast<int>(mixers.size());
  m.mixer = std::move(mixers);
  m.mlp_ratio = 2;
  return m;
}

inline std::vector<int32_t> random_tokens(size_t n, int V, std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, V - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = pick(rng);
  return t;
}

// Worst per-tensor relative error of the model's gradients against central differences (double).
inline double model_gradient_error(const ModelConfig& cfg, int V, int B, int Tn, std::string* worst_name,
                                   DropoutDraw dropout = {}) {
  Model<double> model(cfg, V);
  model.init(3);
  // move every parameter off its initial special value (ones, zeros)
  std::mt19937 rng(4);
  std::normal_distribution<double> noise(0.0, 0.05);
  for (auto& p : model.params) p += noise(rng);
  auto tok = random_tokens((size_t)B * Tn, V, rng), tgt = random_tokens((size_t)B * Tn, V, rng);
  auto loss = [&] { return model.forward(tok.data(), tgt.data(), B, Tn, dropout); };
  loss();
  model.zero_grad();
  model.backward();
  double worst = 0;
  for (const auto& s : model.layout().specs()) {
    std::vector<double> analytic(model.grads.begin() + s.offset, model.grads.begin() + s.offset + s.size);
    auto numeric = numeric_grad(loss, model.params.data() + s.offset, s.size);
    double e = rel_error(analytic, numeric);
    if (e > worst) {
      worst = e;
      *worst_name = s.name;
    }
  }
  return worst;
}

// Changes the token at t0 and returns the largest relative change of any logit before t0.
inline double model_causality_leak(const ModelConfig& cfg, int V, int Tn, int t0) {
  Model<float> model(cfg, V);
  model.init(5);
  std::mt19937 rng(6);
  auto tok = random_tokens(Tn, V, rng);
  model.forward(tok.data(), nullptr, 1, Tn);
  std::vector<float> a(model.logits(), model.logits() + (size_t)Tn * V);
  tok[t0] = (tok[t0] + 1) % V;
  model.forward(tok.data(), nullptr, 1, Tn);
  double worst = 0, scale = 1e-30;
  for (float v : a) scale = std::max(scale, (double)std::fabs(v));
  for (size_t i = 0; i < (size_t)t0 * V; i++) worst = std::max(worst, (double)std::fabs(a[i] - model.logits()[i]));
  // and the change at t0 itself must be visible (the check can fail)
  double at = 0;
  for (size_t i = (size_t)t0 * V; i < (size_t)(t0 + 1) * V; i++) at = std::max(at, (double)std::fabs(a[i] - model.logits()[i]));
  EXPECT_GT(at / scale, 1e-4) << "changing token " << t0 << " did not change its own logits";
  return worst / scale;
}

// Logits from incremental generation vs. a full forward over the same tokens, per position. Then a
// second begin_incremental on the same model — what the sampler does past the context, rebuilding
// from the last half of the window with positions restarting at 0 — over other tokens: every
// cache must start over (a stale state would show as a mismatch).
inline double model_incremental_error(const ModelConfig& cfg, int V, int Tn) {
  Model<float> model(cfg, V);
  model.init(7);
  std::mt19937 rng(8);
  auto tok = random_tokens(Tn, V, rng);
  double worst = 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) tok = random_tokens(Tn / 2, V, rng);
    const int n = (int)tok.size();
    model.forward(tok.data(), nullptr, 1, n);
    std::vector<float> full(model.logits(), model.logits() + (size_t)n * V);
    model.begin_incremental(Tn);
    for (int t = 0; t < n; t++) {
      const float* l = model.step(tok[t], t);
      worst = std::max(worst, rel_error_of(l, full.data() + (size_t)t * V, V));
    }
  }
  return worst;
}

}  // namespace spectral::testing
