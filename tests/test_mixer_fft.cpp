// The fft mixer layer (projections + causal FFT convolution + gate): gradients, causality,
// incremental generation.
#include "model/mixer_fft.h"
#include "model_checks.h"

using namespace spectral;
using namespace spectral::testing;

TEST(FftMixer, GradientMatchesFiniteDifferencesWithGate) {
  auto cfg = small_model_config(6, 2, 9);
  std::string worst;
  double e = mixer_gradient_error("fft", cfg, 2, 7, &worst);
  EXPECT_LT(e, kGradTol) << worst;
}

TEST(FftMixer, GradientMatchesFiniteDifferencesWithoutGate) {
  auto cfg = small_model_config(5, 1, 7);
  cfg.fft.gate = false;
  std::string worst;
  double e = mixer_gradient_error("fft", cfg, 1, 5, &worst);
  EXPECT_LT(e, kGradTol) << worst;
}

TEST(FftMixer, IsCausal) {
  auto cfg = small_model_config(16, 2, 64);
  for (int t0 : {1, 20, 63}) EXPECT_LT(mixer_causality_leak("fft", cfg, 2, 64, t0), 1e-5) << "t0=" << t0;
}

TEST(FftMixer, IncrementalStepEqualsFullForward) {
  auto cfg = small_model_config(16, 2, 200);
  EXPECT_LT(mixer_incremental_error("fft", cfg, 200), 1e-4);
}

// The step's online convolution (ops/fft_online), at every position of a context spanning several
// levels of blocks (base blocks of 1, 3, 4 and 16: up to 8 levels at T = 300), and a prefill over part of
// it asked for some of its output rows (mixer_prefill_error), with and without the
// gate, and the direct sum over the history (step_block = 0, the reference).
TEST(FftMixer, IncrementalStepAndPrefillEqualFullForwardForEveryBaseBlock) {
  for (bool gate : {true, false})
    for (int block : {0, 1, 3, 4, 16}) {
      auto cfg = small_model_config(8, 2, 300);
      cfg.fft.gate = gate;
      cfg.fft.step_block = block;
      EXPECT_LT(mixer_incremental_error("fft", cfg, 300), 1e-4) << "step_block " << block << (gate ? ", gate" : "");
      EXPECT_LT(mixer_prefill_error("fft", cfg, 300), 1e-4) << "step_block " << block << (gate ? ", gate" : "");
    }
}

// The kernel's spectra are kept across forwards while the taps stay the same (evaluation batches,
// sampling without state); any change of a used tap, or a new binding, recomputes them.
TEST(FftMixer, KernelSpectraAreReusedOnlyWhileTheTapsAreUnchanged) {
  ModelConfig cfg = tiny_model_config({"fft", "fft"}, 8, 2, 16);
  const int V = 11, B = 2, Tn = 12;
  Model<float> model(cfg, V);
  model.init(9);
  std::mt19937 rng(10);
  auto tok = random_tokens((size_t)B * Tn, V, rng);
  auto logits = [&](Model<float>& m, int b, int t) {
    m.forward(tok.data(), nullptr, b, t);
    return std::vector<float>(m.logits(), m.logits() + (size_t)b * t * V);
  };
  auto fresh = [&](int b, int t) {
    Model<float> other(cfg, V);
    other.params = model.params;
    return logits(other, b, t);
  };
  const auto first = logits(model, B, Tn);
  EXPECT_EQ(logits(model, B, Tn), first);
  size_t kernel = 0;
  for (const auto& s : model.layout().specs())
    if (s.name == "layers.1.mixer.kernel") kernel = s.offset;
  ASSERT_GT(kernel, 0u);
  // a tap past the bound length is not used: same logits
  model.params[kernel + 3 * cfg.context + Tn] += 1.0f;
  EXPECT_EQ(logits(model, B, Tn), first);
  // a used tap (channel 3, lag 2) changes the output, exactly as a model built afresh computes it
  model.params[kernel + 3 * cfg.context + 2] += 0.5f;
  const auto changed = logits(model, B, Tn);
  EXPECT_NE(changed, first);
  EXPECT_EQ(changed, fresh(B, Tn));
  // a new binding (other length, other batch) recomputes them
  EXPECT_EQ(logits(model, 1, 7), fresh(1, 7));
  EXPECT_EQ(logits(model, B, Tn), changed);
  const auto& fft = dynamic_cast<const FftMixer<float>&>(model.mixer(1));
  EXPECT_TRUE(fft.remembers_taps());

  // training: nothing is remembered (not even the taps' hash), every forward transforms the kernel
  model.set_weights_change_every_step(true);
  EXPECT_FALSE(fft.remembers_taps());
  EXPECT_EQ(logits(model, B, Tn), changed);
  model.params[kernel + 3 * cfg.context + 2] -= 0.25f;
  EXPECT_EQ(logits(model, B, Tn), fresh(B, Tn));
  EXPECT_FALSE(fft.remembers_taps());
}

// Generation: the spectra of the online convolution's levels are kept for the next sequence (a
// rebuild past the context, another stream's prefill) while the kernel is unchanged; a changed tap,
// even one that only a high level reads, makes them anew: the logits are then those of a model built
// afresh with the changed weights.
TEST(FftMixer, OnlineSpectraAreReusedOnlyWhileTheTapsAreUnchanged) {
  const int T = 64, V = 11, n = 40;
  ModelConfig cfg = tiny_model_config({"fft", "fft"}, 8, 2, T);
  cfg.fft.step_block = 4;  // levels of 4, 8, 16, 32
  Model<float> model(cfg, V);
  model.init(21);
  std::mt19937 rng(22);
  const auto tok = random_tokens(T, V, rng);
  auto generation = [&](Model<float>& m) {  // a prefill of n, then steps to the end: every logit
    std::vector<float> out;
    const float* l = m.prefill(tok.data(), n, T);
    out.insert(out.end(), l, l + V);
    for (int t = n; t < T; t++) {
      l = m.step(tok[t], t);
      out.insert(out.end(), l, l + V);
    }
    return out;
  };
  auto fresh = [&] {
    Model<float> other(cfg, V);
    other.params = model.params;
    return generation(other);
  };
  const auto& fft = dynamic_cast<const FftMixer<float>&>(model.mixer(1));
  const auto first = generation(model);
  EXPECT_EQ(fft.online_levels_made(), fft_online_levels(T, 4));
  EXPECT_EQ(first, fresh());
  // unchanged kernel: the next sequence keeps every level made, and gives the same logits
  EXPECT_EQ(generation(model), first);
  EXPECT_EQ(fft.online_levels_made(), fft_online_levels(T, 4));
  size_t kernel = 0;
  for (const auto& s : model.layout().specs())
    if (s.name == "layers.1.mixer.kernel") kernel = s.offset;
  ASSERT_GT(kernel, 0u);
  // lag 40 is read only by the spectra of level 3 (taps 0..63); the direct taps and levels 0..2 stop at 31
  model.params[kernel + 3 * cfg.context + 40] += 0.5f;
  const auto changed = generation(model);
  EXPECT_NE(changed, first);
  EXPECT_EQ(changed, fresh());
  // and against the full forward of the changed model
  model.forward(tok.data(), nullptr, 1, T);
  double worst = 0;
  for (int t = n - 1; t < T; t++)
    worst = std::max(worst, rel_error_of(changed.data() + (size_t)(t - n + 1) * V, model.logits() + (size_t)t * V, V));
  EXPECT_LE(worst, 1e-4);
}
