// Whole-model checks: finite-difference gradients of the loss w.r.t. every parameter, causality
// of the logits and incremental == full forward, for each mixer and for hybrid stacks.
#include "model_checks.h"

using namespace spectral;
using namespace spectral::testing;

TEST(Model, FftGradientMatchesFiniteDifferences) {
  std::string worst;
  auto cfg = tiny_model_config({"fft", "fft"}, 6, 2, 9);
  EXPECT_LT(model_gradient_error(cfg, 5, 2, 7, &worst), kGradTol) << worst;
}

TEST(Model, FftUntiedNoPositionsGradientMatchesFiniteDifferences) {
  std::string worst;
  auto cfg = tiny_model_config({"fft"}, 6, 2, 9);
  cfg.tie_embeddings = false;
  cfg.pos_emb = "none";
  cfg.fft.gate = false;
  EXPECT_LT(model_gradient_error(cfg, 7, 1, 5, &worst), kGradTol) << worst;
}

TEST(Model, FftLogitsAreCausal) {
  auto cfg = tiny_model_config({"fft", "fft"}, 16, 2, 64);
  for (int t0 : {1, 30, 63}) EXPECT_LT(model_causality_leak(cfg, 11, 64, t0), 1e-5) << "t0=" << t0;
}

TEST(Model, FftIncrementalEqualsFullForward) {
  auto cfg = tiny_model_config({"fft", "fft"}, 16, 2, 200);
  EXPECT_LT(model_incremental_error(cfg, 11, 200), 1e-4);
}

TEST(Model, LossAtInitIsNearUniform) {
  auto cfg = tiny_model_config({"fft", "fft"}, 32, 4, 32);
  Model<float> model(cfg, 65);
  model.init(1);
  std::mt19937 rng(2);
  auto tok = random_tokens(4 * 32, 65, rng), tgt = random_tokens(4 * 32, 65, rng);
  double loss = model.forward(tok.data(), tgt.data(), 4, 32);
  EXPECT_NEAR(loss, std::log(65.0), 0.3);
}

TEST(Model, ReluSquaredMlpGradientCausalityAndIncremental) {
  std::string worst;
  auto cfg = tiny_model_config({"rot", "fft"}, 8, 2, 9);
  cfg.activation = "relu2";
  EXPECT_LT(model_gradient_error(cfg, 5, 2, 7, &worst), kGradTol) << worst;
  auto wide = tiny_model_config({"fft", "rot"}, 16, 2, 64);
  wide.activation = "relu2";
  for (int t0 : {1, 30, 63}) EXPECT_LT(model_causality_leak(wide, 11, 64, t0), 1e-5) << "t0=" << t0;
  EXPECT_LT(model_incremental_error(wide, 11, 60), 1e-4);
}

// Every mixer and hybrid stacks: gradients, causality, incremental == full.
class ModelPerMixer : public ::testing::TestWithParam<std::vector<std::string>> {};

static std::string stack_name(const ::testing::TestParamInfo<std::vector<std::string>>& info) {
  std::string s;
  for (const auto& m : info.param) s += (s.empty() ? "" : "_") + m;
  return s;
}

TEST_P(ModelPerMixer, GradientMatchesFiniteDifferences) {
  std::string worst;
  auto cfg = tiny_model_config(GetParam(), 8, 2, 9);
  cfg.local.window = 3;
  EXPECT_LT(model_gradient_error(cfg, 5, 2, 7, &worst), kGradTol) << worst;
}

TEST_P(ModelPerMixer, LogitsAreCausal) {
  auto cfg = tiny_model_config(GetParam(), 16, 2, 64);
  cfg.local.window = 8;
  for (int t0 : {1, 30, 63}) EXPECT_LT(model_causality_leak(cfg, 11, 64, t0), 1e-5) << "t0=" << t0;
}

TEST_P(ModelPerMixer, IncrementalEqualsFullForwardAt200Positions) {
  auto cfg = tiny_model_config(GetParam(), 16, 2, 256);
  cfg.local.window = 32;
  EXPECT_LT(model_incremental_error(cfg, 11, 200), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Stacks, ModelPerMixer,
                         ::testing::Values(std::vector<std::string>{"attention", "attention"},
                                           std::vector<std::string>{"local", "local"},
                                           std::vector<std::string>{"rot", "rot"},
                                           std::vector<std::string>{"fft", "rot", "local", "attention"}),
                         stack_name);

TEST(Model, RotVariantsInAHybridStack) {
  for (const char* variant : {"lowrank", "headphase", "dynamic"}) {
    auto cfg = tiny_model_config({"rot", "fft"}, 8, 2, 9);
    cfg.rot.variant = variant;
    std::string worst;
    EXPECT_LT(model_gradient_error(cfg, 5, 1, 7, &worst), kGradTol) << variant << " " << worst;
    auto big = tiny_model_config({"rot", "local"}, 16, 2, 256);
    big.rot.variant = variant;
    big.local.window = 16;
    EXPECT_LT(model_incremental_error(big, 11, 200), 1e-4) << variant;
    EXPECT_LT(model_causality_leak(big, 11, 100, 50), 1e-5) << variant;
  }
}

// Batch rows are independent: changing one token of sequence 1 moves nothing in sequences 0 and 2,
// and nothing before it in sequence 1 (at training-like sizes, where the threaded paths run).
TEST(Model, BatchRowsAreIndependentAndCausalForEveryMixer) {
  for (auto mixers : std::vector<std::vector<std::string>>{{"fft", "fft"}, {"attention"}, {"local"}, {"rot"}}) {
    auto cfg = tiny_model_config(mixers, 64, 4, 128);
    cfg.local.window = 16;
    const int B = 3, T = 128, V = 13, t0 = 70;
    Model<float> model(cfg, V);
    model.init(9);
    std::mt19937 rng(10);
    auto tok = random_tokens((size_t)B * T, V, rng);
    model.forward(tok.data(), nullptr, B, T);
    std::vector<float> a(model.logits(), model.logits() + (size_t)B * T * V);
    tok[(size_t)1 * T + t0] = (tok[(size_t)1 * T + t0] + 1) % V;
    model.forward(tok.data(), nullptr, B, T);
    double scale = 1e-30, other = 0, before = 0, at = 0;
    for (float v : a) scale = std::max(scale, (double)std::fabs(v));
    for (int b = 0; b < B; b++)
      for (int t = 0; t < T; t++)
        for (int v = 0; v < V; v++) {
          const size_t i = ((size_t)b * T + t) * V + v;
          const double diff = std::fabs(a[i] - model.logits()[i]);
          if (b != 1) other = std::max(other, diff);
          else if (t < t0) before = std::max(before, diff);
          else if (t == t0) at = std::max(at, diff);
        }
    EXPECT_LT(other / scale, 1e-6) << mixers[0];
    EXPECT_LT(before / scale, 1e-5) << mixers[0];
    EXPECT_GT(at / scale, 1e-4) << mixers[0];
  }
}

// Backward reuses the normalized inputs and act(h) that forward kept (model.keep_activations_mib),
// or recomputes them when they would take more: the gradients are bitwise the same either way, for
// every mixer, both activations and with dropout; and the limit decides which one a binding does.
TEST(Model, KeptActivationsGiveTheSameGradientsAsRecomputedOnes) {
  const std::vector<std::vector<std::string>> stacks = {
      {"fft", "rot"}, {"attention", "local"}, {"rot"}, {"fft"}};
  for (const auto& stack : stacks)
    for (const char* act : {"gelu", "relu2"})
      for (double p : {0.0, 0.2}) {
        std::vector<std::vector<float>> grads;
        std::vector<double> losses;
        std::vector<size_t> bytes;
        for (int keep_mib : {256, 0}) {
          auto cfg = tiny_model_config(stack, 16, 2, 24);
          cfg.activation = act;
          cfg.keep_activations_mib = keep_mib;
          cfg.rot.variant = stack.size() == 1 && stack[0] == "rot" ? "dynamic" : "lowrank";
          Model<float> model(cfg, 11);
          model.init(7);
          std::mt19937 rng(8);
          auto tok = random_tokens(3 * 24, 11, rng), tgt = random_tokens(3 * 24, 11, rng);
          DropoutDraw drop;
          drop.p = p;
          drop.seed = 99;
          losses.push_back(model.forward(tok.data(), tgt.data(), 3, 24, drop));
          model.zero_grad();
          model.backward();
          grads.push_back(model.grads);
          bytes.push_back(model.activation_bytes());
        }
        const std::string what = stack[0] + (stack.size() > 1 ? "+" + stack[1] : "") + " " + act + " p=" + std::to_string(p);
        EXPECT_EQ(losses[0], losses[1]) << what;
        EXPECT_TRUE(grads[0] == grads[1]) << what;
        // 2 layers at most x (2·d + 2·d) values per position kept: 3·24 positions x 64 floats per layer
        EXPECT_EQ(bytes[0] - bytes[1], stack.size() * 3 * 24 * (2 * 16 + 2 * 16) * sizeof(float)) << what;
      }
  // the limit: 1 MiB keeps them for 3 x 24 positions (18 KiB), not for 64 x 512 (64 floats each: 8 MiB)
  auto cfg = tiny_model_config({"rot"}, 16, 2, 512);
  cfg.keep_activations_mib = 1;
  Model<float> model(cfg, 11);
  model.bind(3, 24);
  const size_t small_kept = model.activation_bytes();
  cfg.keep_activations_mib = 0;
  Model<float> never(cfg, 11);
  never.bind(3, 24);
  EXPECT_GT(small_kept, never.activation_bytes());
  model.bind(64, 512);
  never.bind(64, 512);
  EXPECT_EQ(model.activation_bytes(), never.activation_bytes());
}

// The recomputing path through finite differences too (the other tests run with the default limit,
// under which these tiny models keep everything).
TEST(Model, RecomputedActivationsGradientMatchesFiniteDifferences) {
  std::string worst;
  auto cfg = tiny_model_config({"rot", "fft"}, 8, 2, 9);
  cfg.keep_activations_mib = 0;
  EXPECT_LT(model_gradient_error(cfg, 5, 2, 7, &worst), kGradTol) << worst;
  cfg.activation = "relu2";
  EXPECT_LT(model_gradient_error(cfg, 5, 2, 7, &worst), kGradTol) << worst;
}

// model.zero_init_out: every block's output projections start at zero and everything else as without
// the key; the first gradient reaches the output projections but no weight inside a block.
TEST(Model, ZeroInitOutputProjectionsStartBlocksAsTheIdentity) {
  auto cfg = tiny_model_config({"fft", "rot", "attention", "local"}, 16, 2, 24);
  Model<float> plain(cfg, 11);
  plain.init(7);
  cfg.zero_init_out = true;
  Model<float> zero(cfg, 11);
  zero.init(7);
  std::mt19937 rng(8);
  auto tok = random_tokens(2 * 24, 11, rng), tgt = random_tokens(2 * 24, 11, rng);
  zero.forward(tok.data(), tgt.data(), 2, 24);
  zero.zero_grad();
  zero.backward();
  int outs = 0;
  for (const auto& s : zero.layout().specs()) {
    const bool out = s.name.find(".mixer.w_out") != std::string::npos || s.name.find(".mlp.w2") != std::string::npos;
    const bool inside = s.name.rfind("layers.", 0) == 0 && !out && s.name.find(".mlp.b2") == std::string::npos;
    double p_abs = 0, g_abs = 0, diff = 0;
    for (size_t i = 0; i < s.size; i++) {
      p_abs += std::fabs(zero.params[s.offset + i]);
      g_abs += std::fabs(zero.grads[s.offset + i]);
      diff += std::fabs(zero.params[s.offset + i] - plain.params[s.offset + i]);
    }
    if (out) {
      outs++;
      EXPECT_EQ(p_abs, 0.0) << s.name;
      EXPECT_GT(g_abs, 0.0) << s.name;
    } else {
      EXPECT_EQ(diff, 0.0) << s.name << " should start as without the key";
    }
    if (inside) {
      EXPECT_EQ(g_abs, 0.0) << s.name << " is inside a block";
    }
  }
  EXPECT_EQ(outs, 8);  // 4 layers x (mixer w_out, mlp.w2)
}
