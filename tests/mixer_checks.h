// mixer_checks: the checks every mixer layer must pass, written once and run for each mixer:
// finite-difference gradients of the whole layer (input and every parameter), causality, and
// incremental generation equal to the full forward pass.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "gradcheck.h"
#include "model/mixer.h"

namespace spectral::testing {

// A small model config for mixer tests (odd sizes on purpose).
inline ModelConfig small_model_config(int d = 8, int heads = 2, int context = 16) {
  ModelConfig m;
  m.d_model = d;
  m.n_layers = 1;
  m.n_heads = heads;
  m.context = context;
  m.mixer = {"fft"};
  m.mlp_ratio = 4;
  m.pos_emb = "learned";
  m.tie_embeddings = true;
  m.fft = FftConfig{true, 0.5, 0.05, 0.5, 4};
  m.rot = RotConfig{"lowrank", 0};
  m.local = LocalConfig{4};
  return m;
}

// A mixer with its parameters initialised (normal init scaled by init_scale, custom init, plus
// noise so that no parameter sits at a special value) and bound to (B, Tn).
template <typename T>
struct MixerRig {
  std::unique_ptr<Mixer<T>> mixer;
  ParamLayout layout;
  std::vector<T> params, grads;
  Arena<T> saved, scratch;
  int B = 0, Tn = 0, d = 0;

  MixerRig(const std::string& name, const ModelConfig& cfg, int B_, int Tn_, uint64_t seed = 7) {
    mixer = make_mixer<T>(name, cfg);
    d = cfg.d_model;
    mixer->declare(layout, "m.");
    params.assign(layout.total(), T(0));
    grads.assign(layout.total(), T(0));
    std::mt19937_64 rng(seed);
    init_params(params.data(), layout, rng, /*jitter=*/0.1);
    std::vector<T> custom(params.size(), T(0));
    mixer->init_custom(custom.data(), rng);
    for (const auto& s : layout.specs())
      if (s.init == Init::Custom)
        for (size_t i = 0; i < s.size; i++) params[s.offset + i] = custom[s.offset + i];
    rebind(B_, Tn_);
  }
  void rebind(int B_, int Tn_) {
    B = B_;
    Tn = Tn_;
    bind_arenas(saved, scratch, [&] { mixer->bind(saved, scratch, B, Tn); });
  }
  std::vector<T> forward(const std::vector<T>& in) {
    std::vector<T> out(in.size());
    mixer->forward(out.data(), in.data(), params.data());
    return out;
  }
};

// Norm-wise relative error of the layer's analytic gradients (input and all parameters together
// per tensor) against central finite differences, in double. Returns the worst tensor's error.
inline double mixer_gradient_error(const std::string& name, const ModelConfig& cfg, int B, int Tn,
                                   std::string* worst_name = nullptr, double in_scale = 1.0) {
  MixerRig<double> rig(name, cfg, B, Tn);
  std::mt19937 rng(99);
  auto x = random_vector((size_t)B * Tn * cfg.d_model, rng, in_scale);
  auto g = random_vector(x.size(), rng);
  auto loss = [&] { return dot(rig.forward(x), g); };
  loss();
  std::vector<double> dx(x.size(), 0.0);
  std::fill(rig.grads.begin(), rig.grads.end(), 0.0);
  rig.mixer->backward(dx.data(), rig.grads.data(), g.data(), x.data(), rig.params.data());
  double worst = rel_error(dx, numeric_grad(loss, x.data(), x.size()));
  if (worst_name) *worst_name = "input";
  for (const auto& s : rig.layout.specs()) {
    std::vector<double> analytic(rig.grads.begin() + s.offset, rig.grads.begin() + s.offset + s.size);
    auto numeric = numeric_grad(loss, rig.params.data() + s.offset, s.size);
    double e = rel_error(analytic, numeric);
    if (e > worst) {
      worst = e;
      if (worst_name) *worst_name = s.name;
    }
  }
  return worst;
}

// Changes the input at position t0 (all channels) and returns the largest change of any output
// before t0, relative to the largest output (float, the precision the engine trains in).
inline double mixer_causality_leak(const std::string& name, const ModelConfig& cfg, int B, int Tn, int t0) {
  MixerRig<float> rig(name, cfg, B, Tn);
  std::mt19937 rng(5);
  auto xd = random_vector((size_t)B * Tn * cfg.d_model, rng);
  std::vector<float> a(xd.begin(), xd.end()), b = a;
  for (int bb = 0; bb < B; bb++)
    for (int c = 0; c < cfg.d_model; c++) b[((size_t)bb * Tn + t0) * cfg.d_model + c] += 2.0f;
  auto ya = rig.forward(a), yb = rig.forward(b);
  double worst = 0, scale = 1e-30;
  for (float v : ya) scale = std::max(scale, (double)std::fabs(v));
  for (int bb = 0; bb < B; bb++)
    for (int t = 0; t < t0; t++)
      for (int c = 0; c < cfg.d_model; c++) {
        size_t i = ((size_t)bb * Tn + t) * cfg.d_model + c;
        worst = std::max(worst, (double)std::fabs(ya[i] - yb[i]));
      }
  return worst / scale;
}

// Feeds Tn positions one at a time through step() and compares each output row with the full
// forward pass over the same sequence (B = 1). Returns the worst per-row relative error.
inline double mixer_incremental_error(const std::string& name, const ModelConfig& cfg, int Tn) {
  MixerRig<float> rig(name, cfg, 1, Tn);
  std::mt19937 rng(6);
  auto xd = random_vector((size_t)Tn * cfg.d_model, rng);
  std::vector<float> x(xd.begin(), xd.end());
  auto full = rig.forward(x);
  rig.mixer->begin_incremental(Tn);
  std::vector<float> row(cfg.d_model);
  double worst = 0;
  for (int t = 0; t < Tn; t++) {
    rig.mixer->step(row.data(), x.data() + (size_t)t * cfg.d_model, t, rig.params.data());
    worst = std::max(worst, rel_error_of(row.data(), full.data() + (size_t)t * cfg.d_model, cfg.d_model));
  }
  return worst;
}

// Prefill of the first n positions (n = Tn/3 and Tn), asked for output rows out_from.. (0, 1, n/2,
// n−1), then steps to Tn: the rows written and the stepped rows against the full forward; a row before
// out_from that prefill wrote counts as an infinite error. Returns the worst per-row relative error.
inline double mixer_prefill_error(const std::string& name, const ModelConfig& cfg, int Tn) {
  MixerRig<float> rig(name, cfg, 1, Tn);
  const int d = cfg.d_model;
  std::mt19937 rng(8);
  auto xd = random_vector((size_t)Tn * d, rng);
  std::vector<float> x(xd.begin(), xd.end());
  const auto full = rig.forward(x);
  const float sentinel = 12345.0f;
  std::vector<float> row(d);
  double worst = 0;
  for (int n : {Tn / 3, Tn}) {
    for (int out_from : {0, 1, n / 2, n - 1}) {
      rig.rebind(1, n);
      rig.mixer->begin_incremental(Tn);
      std::vector<float> out((size_t)n * d, sentinel);
      rig.mixer->prefill(out.data(), x.data(), rig.params.data(), out_from);
      for (size_t i = 0; i < (size_t)out_from * d; i++)
        if (out[i] != sentinel) return std::numeric_limits<double>::infinity();
      for (int t = out_from; t < n; t++)
        worst = std::max(worst, rel_error_of(out.data() + (size_t)t * d, full.data() + (size_t)t * d, d));
      for (int t = n; t < Tn; t++) {
        rig.mixer->step(row.data(), x.data() + (size_t)t * d, t, rig.params.data());
        worst = std::max(worst, rel_error_of(row.data(), full.data() + (size_t)t * d, d));
      }
    }
  }
  return worst;
}

}  // namespace spectral::testing
