// mixer_attention_spec: the registry entries of the two mixers model/mixer_attention builds —
// `attention` (full causal softmax attention) and `local` (the same with a sliding window) — with
// their keys and config rules, and what the benchmarks need: FLOPs, the values ops/attention saves,
// ops/attention alone on random inputs.
#include <algorithm>

#include "model/mixer_attention.h"
#include "model/mixer_registry.h"
#include "ops/attention.h"
#include "util/float_buffer.h"

namespace spectral {

namespace {

// The keys a query sees, itself included: all of the context, or model.local.window.
int full_window(const ModelConfig& m) { return m.context; }
int local_window(const ModelConfig& m) { return m.local.window; }

template <typename T, int (*Window)(const ModelConfig&)>
std::unique_ptr<Mixer<T>> make(const ModelConfig& cfg) {
  return std::make_unique<AttentionMixer<T>>(cfg, Window(cfg));
}

// Projections 2·N·d·3d (Wqkv) + 2·N·d·d (Wo). Core 12·B·d·P, P = Σ_t min(t+1, window) visible
// (query, key) pairs: forward QKᵀ and P·V (2·P·d each), backward four products of the same size.
template <int (*Window)(const ModelConfig&)>
MixerFlops flops(const ModelConfig& mc, int B, int T) {
  const double N = double(B) * T, d = mc.d_model;
  MixerFlops f;
  f.dense = 2 * N * d * 3 * d + 2 * N * d * d;
  const int w = std::min(Window(mc), T);
  double pairs = 0;
  for (int t = 0; t < T; t++) pairs += std::min(t + 1, w);
  f.core = 12.0 * B * d * pairs;
  return f;
}

template <int (*Window)(const ModelConfig&)>
size_t core_saved_values(const ModelConfig& m, int B) {
  return attention_saved_size(B, m.context, m.d_model, m.n_heads, Window(m));
}

// ops/attention on random inputs (qkv (B,T,3d)).
class Core : public BenchCase {
 public:
  Core(int B, int T, int d, int H, int window, std::mt19937_64& rng) : B_(B), T_(T), d_(d), H_(H), w_(window) {
    const size_t n = (size_t)B * T * d;
    qkv_ = FloatBuffer(3 * n);
    qkv_.fill_normal(rng, 1.0);
    out_ = FloatBuffer(n);
    probs_ = FloatBuffer(attention_saved_size(B, T, d, H, window));
    dqkv_ = FloatBuffer(3 * n);
    scratch_ = FloatBuffer(attention_scratch_size(B, T, d, H, window));
    dout_ = FloatBuffer(n);
    dout_.fill_normal(rng, 1.0);
  }
  void forward() override { attention_forward(out_.data(), probs_.data(), qkv_.data(), B_, T_, d_, H_, w_); }
  void backward() override {
    attention_backward(dqkv_.data(), scratch_.data(), dout_.data(), qkv_.data(), probs_.data(), B_, T_, d_, H_, w_);
  }

 private:
  int B_, T_, d_, H_, w_;
  FloatBuffer qkv_, out_, probs_, dqkv_, scratch_, dout_;
};

template <int (*Window)(const ModelConfig&)>
std::unique_ptr<BenchCase> core(const ModelConfig& m, int B, std::mt19937_64& rng) {
  return std::make_unique<Core>(B, m.context, m.d_model, m.n_heads, Window(m), rng);
}

template <int (*Window)(const ModelConfig&)>
MixerSpec spec() {
  MixerSpec s;
  s.make_float = make<float, Window>;
  s.make_double = make<double, Window>;
  s.bench.flops = flops<Window>;
  s.bench.core_saved_values = core_saved_values<Window>;
  s.bench.core = core<Window>;
  return s;
}

}  // namespace

MixerSpec attention_mixer_spec() {
  MixerSpec s = spec<full_window>();
  s.name = "attention";
  s.summary = "causal multi-head softmax attention over the whole context: O(T²)";
  s.keys = {"model.n_heads"};
  s.bench.quadratic_cap_t = 16384;
  s.bench.targets = {{BenchTarget::ReferenceRatio, 16384, ""}};
  return s;
}

MixerSpec local_mixer_spec() {
  MixerSpec s = spec<local_window>();
  s.name = "local";
  s.summary = "causal multi-head softmax attention over a sliding window: O(T·window)";
  s.keys = {"model.n_heads", "model.local.window"};
  s.check = [](const ModelConfig& m, bool) { check_positive("model.local.window", m.local.window); };
  s.describe = [](const ModelConfig& m) { return "local/w" + std::to_string(m.local.window); };
  s.bench.knobs = {{"window", "Window of `local`", "local window", 128,
                    [](ModelConfig& m, int window) { m.local.window = window; }}};
  return s;
}

}  // namespace spectral
