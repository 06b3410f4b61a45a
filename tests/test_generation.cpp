// Generation with a prefill (sample/sampler, Model::prefill): the prompt goes through one forward
// pass that leaves every layer's incremental state ready. For every mixer and a hybrid stack:
// prefill then steps gives the logits that steps from the start give and that a full forward gives
// (at every position after the prompt); generate() with a prefill draws the same characters as
// generate() feeding the prompt step by step, for prompts shorter than, equal to and longer than
// the context and across the rebuilds of a full window; and, while everything fits in the window,
// the same characters as recomputing a full forward for every character. Several streams stepped
// together (Model::step_streams, generate_streams) equal each stream run alone. The fft mixer's
// online convolution over several levels of blocks: steps and prefill + steps equal the full forward
// at every position up to the whole context, and generation past the context draws what its direct
// step draws, one stream and batched.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "model_checks.h"
#include "sample/sampler.h"

using namespace spectral;
using namespace spectral::testing;

namespace {

struct Stack {
  std::string name;
  std::vector<std::string> mixers;
  std::string rot_variant = "lowrank";
};

const Stack kStacks[] = {{"attention", {"attention", "attention"}},
                         {"local", {"local", "local"}},
                         {"fft", {"fft", "fft"}},
                         {"rot_lowrank", {"rot", "rot"}, "lowrank"},
                         {"rot_headphase", {"rot", "rot"}, "headphase"},
                         {"rot_dynamic", {"rot", "rot"}, "dynamic"},
                         {"hybrid", {"fft", "rot", "local", "attention"}, "headphase"}};

void PrintTo(const Stack& s, std::ostream* os) { *os << s.name; }

ModelConfig stack_config(const Stack& s, int context) {
  ModelConfig cfg = tiny_model_config(s.mixers, 16, 2, context);
  cfg.local.window = 8;
  cfg.rot.variant = s.rot_variant;
  return cfg;
}

}  // namespace

class Generation : public ::testing::TestWithParam<Stack> {};

// Prefill of the first n tokens, then steps to the end of a window of T positions: every logit row
// from position n−1 on against the full forward and against steps from position 0.
TEST_P(Generation, PrefillThenStepsEqualsStepsAndFullForward) {
  const int T = 64, V = 11;
  const ModelConfig cfg = stack_config(GetParam(), T);
  Model<float> model(cfg, V);
  model.init(7);
  std::mt19937 rng(8);
  const auto tok = random_tokens(T, V, rng);
  model.forward(tok.data(), nullptr, 1, T);
  const std::vector<float> full(model.logits(), model.logits() + (size_t)T * V);
  std::vector<float> stepped((size_t)T * V);
  model.begin_incremental(T);
  for (int t = 0; t < T; t++) {
    const float* l = model.step(tok[t], t);
    std::copy(l, l + V, stepped.begin() + (size_t)t * V);
  }
  for (int n : {1, 5, 17, 32, 63, 64}) {
    const float* l = model.prefill(tok.data(), n, T);
    double vs_full = rel_error_of(l, full.data() + (size_t)(n - 1) * V, V);
    double vs_steps = rel_error_of(l, stepped.data() + (size_t)(n - 1) * V, V);
    for (int t = n; t < T; t++) {
      l = model.step(tok[t], t);
      vs_full = std::max(vs_full, rel_error_of(l, full.data() + (size_t)t * V, V));
      vs_steps = std::max(vs_steps, rel_error_of(l, stepped.data() + (size_t)t * V, V));
    }
    EXPECT_LE(vs_full, 1e-4) << "prefill of " << n;
    EXPECT_LE(vs_steps, 1e-4) << "prefill of " << n;
  }
}

// generate() with and without the prefill draws the same characters (temperature 1, fixed seed), for
// prompts shorter than, equal to and longer than the context, generating long enough to rebuild the
// full window several times (each rebuild is a prefill too).
TEST_P(Generation, PrefillDrawsWhatStepwiseFeedingDraws) {
  const int ctx = 32, V = 11;
  const ModelConfig cfg = stack_config(GetParam(), ctx);
  Model<float> model(cfg, V);
  model.init(9);
  std::mt19937 rng(10);
  for (int prompt_len : {1, 10, ctx, 50}) {
    const auto prompt = random_tokens(prompt_len, V, rng);
    SamplingOptions so;
    so.seed = 3;
    GenerationOptions with, without;
    without.prefill = false;
    const auto a = generate(model, prompt, 100, so, with);
    const auto b = generate(model, prompt, 100, so, without);
    EXPECT_EQ(a, b) << "prompt of " << prompt_len;
  }
}

// While prompt + generated text fit in the context, the incremental state after a prefill gives the
// characters a full forward over prompt + generated text gives (greedy, and temperature 1).
TEST_P(Generation, PrefillDrawsWhatAFullForwardDraws) {
  const int ctx = 48, V = 11;
  const ModelConfig cfg = stack_config(GetParam(), ctx);
  Model<float> model(cfg, V);
  model.init(11);
  std::mt19937 rng(12);
  const auto prompt = random_tokens(20, V, rng);
  for (double temperature : {0.0, 1.0}) {
    SamplingOptions so;
    so.temperature = temperature;
    so.seed = 5;
    GenerationOptions inc, full;
    full.incremental = false;
    const auto a = generate(model, prompt, ctx - 20, so, inc);
    const auto b = generate(model, prompt, ctx - 20, so, full);
    EXPECT_EQ(a, b) << "temperature " << temperature;
  }
}

// Streams: after one prefill copied into S streams, Model::step_streams over S rows (each stream fed
// its own tokens) gives every stream the logits that step() gives that stream alone.
TEST_P(Generation, StepStreamsEqualsStepPerStream) {
  const int T = 40, V = 11, S = 5, n = 9;
  const ModelConfig cfg = stack_config(GetParam(), T);
  Model<float> model(cfg, V);
  model.init(13);
  std::mt19937 rng(14);
  const auto prompt = random_tokens(n, V, rng);
  std::vector<std::vector<int32_t>> tok;
  for (int i = 0; i < S; i++) tok.push_back(random_tokens(T - n, V, rng));
  std::vector<float> single((size_t)S * (T - n) * V);
  for (int i = 0; i < S; i++) {
    model.prefill(prompt.data(), n, T);
    for (int t = n; t < T; t++) {
      const float* l = model.step(tok[i][t - n], t);
      std::copy(l, l + V, single.begin() + ((size_t)i * (T - n) + (t - n)) * V);
    }
  }
  model.prefill(prompt.data(), n, T);
  model.begin_streams(S);
  for (int i = 0; i < S; i++) model.store_stream(i);
  double worst = 0;
  std::vector<int32_t> row(S);
  for (int t = n; t < T; t++) {
    for (int i = 0; i < S; i++) row[i] = tok[i][t - n];
    const float* l = model.step_streams(row.data(), t);
    for (int i = 0; i < S; i++)
      worst = std::max(worst, rel_error_of(l + (size_t)i * V, single.data() + ((size_t)i * (T - n) + (t - n)) * V, V));
  }
  EXPECT_LE(worst, 1e-5);
}

// generate_streams: stream i of a batch draws what generate() draws with seed S+i, for prompts
// shorter and longer than the context, long enough that every stream's window is rebuilt several
// times, with and without the prefill.
TEST_P(Generation, BatchedStreamsDrawWhatSingleStreamsDraw) {
  const int ctx = 32, V = 11, S = 4;
  const ModelConfig cfg = stack_config(GetParam(), ctx);
  Model<float> model(cfg, V);
  model.init(15);
  std::mt19937 rng(16);
  for (int prompt_len : {1, 10, 50}) {
    const auto prompt = random_tokens(prompt_len, V, rng);
    for (bool prefill : {true, false}) {
      SamplingOptions so;
      so.seed = 21;
      GenerationOptions go;
      go.prefill = prefill;
      const auto batch = generate_streams(model, prompt, 90, S, so, go);
      ASSERT_EQ((int)batch.size(), S);
      for (int i = 0; i < S; i++) {
        SamplingOptions one = so;
        one.seed = so.seed + i;
        EXPECT_EQ(batch[i], generate(model, prompt, 90, one, go))
            << "stream " << i << ", prompt of " << prompt_len << (prefill ? ", prefill" : ", stepwise");
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Stacks, Generation, ::testing::ValuesIn(kStacks),
                         [](const ::testing::TestParamInfo<Stack>& i) { return i.param.name; });

// The fft mixer's online convolution (model.fft.step_block) in whole models: over a context of 256
// with base blocks of 4 (6 levels of blocks), steps from position 0 give the full forward's logits at
// every position, and a prefill of n (at and around block boundaries, up to the whole context)
// followed by steps gives the same; for fft with and without its gate and for a stack of fft and rot.
namespace {
struct OnlineStack {
  std::string name;
  std::vector<std::string> mixers;
  bool gate;
};
const OnlineStack kOnlineStacks[] = {
    {"fft_gate", {"fft", "fft"}, true}, {"fft_nogate", {"fft", "fft"}, false}, {"fft_rot", {"fft", "rot", "fft"}, true}};
}  // namespace

TEST(GenerationOnline, StepsAndPrefillEqualFullForwardAtEveryPosition) {
  const int T = 256, V = 11;
  for (const OnlineStack& s : kOnlineStacks) {
    ModelConfig cfg = tiny_model_config(s.mixers, 16, 2, T);
    cfg.fft.gate = s.gate;
    cfg.fft.step_block = 4;
    Model<float> model(cfg, V);
    model.init(17);
    std::mt19937 rng(18);
    const auto tok = random_tokens(T, V, rng);
    model.forward(tok.data(), nullptr, 1, T);
    const std::vector<float> full(model.logits(), model.logits() + (size_t)T * V);
    std::vector<float> stepped((size_t)T * V);
    model.begin_incremental(T);
    double worst = 0;
    for (int t = 0; t < T; t++) {
      const float* l = model.step(tok[t], t);
      std::copy(l, l + V, stepped.begin() + (size_t)t * V);
      worst = std::max(worst, rel_error_of(l, full.data() + (size_t)t * V, V));
    }
    EXPECT_LE(worst, 1e-4) << s.name << ": steps";
    for (int n : {1, 3, 4, 5, 8, 15, 16, 17, 64, 100, 128, 129, 192, 255, 256}) {
      const float* l = model.prefill(tok.data(), n, T);
      double vs_full = rel_error_of(l, full.data() + (size_t)(n - 1) * V, V);
      double vs_steps = rel_error_of(l, stepped.data() + (size_t)(n - 1) * V, V);
      for (int t = n; t < T; t++) {
        l = model.step(tok[t], t);
        vs_full = std::max(vs_full, rel_error_of(l, full.data() + (size_t)t * V, V));
        vs_steps = std::max(vs_steps, rel_error_of(l, stepped.data() + (size_t)t * V, V));
      }
      EXPECT_LE(vs_full, 1e-4) << s.name << ": prefill of " << n;
      EXPECT_LE(vs_steps, 1e-4) << s.name << ": prefill of " << n;
    }
  }
}

// Generation past the context (the window rebuilt from its last context/2 characters, by prefill or
// step by step), one stream and batched streams: the online convolution draws what the direct sum
// over the history (step_block = 0) draws, for prompts shorter than, equal to and longer than the
// context.
TEST(GenerationOnline, DrawsWhatTheDirectStepDraws) {
  const int ctx = 64, V = 11, S = 3;
  for (const OnlineStack& s : kOnlineStacks) {
    ModelConfig cfg = tiny_model_config(s.mixers, 16, 2, ctx);
    cfg.fft.gate = s.gate;
    cfg.fft.step_block = 4;
    ModelConfig direct_cfg = cfg;
    direct_cfg.fft.step_block = 0;
    Model<float> online(cfg, V), direct(direct_cfg, V);
    online.init(19);
    direct.params = online.params;
    std::mt19937 rng(20);
    for (int prompt_len : {1, 30, ctx, 90}) {
      const auto prompt = random_tokens(prompt_len, V, rng);
      for (bool prefill : {true, false}) {
        SamplingOptions so;
        so.seed = 23;
        GenerationOptions go;
        go.prefill = prefill;
        const std::string what = s.name + ", prompt of " + std::to_string(prompt_len) + (prefill ? ", prefill" : "");
        EXPECT_EQ(generate(online, prompt, 200, so, go), generate(direct, prompt, 200, so, go)) << what;
        EXPECT_EQ(generate_streams(online, prompt, 150, S, so, go), generate_streams(direct, prompt, 150, S, so, go))
            << what << ", " << S << " streams";
      }
    }
  }
}
