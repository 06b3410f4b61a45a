// bench_mixer_cases: a row's config from its label, the core-op and floor cases its registry entry
// makes, the whole-layer case (model/mixer_* with projections, as the model runs it), and the
// memory figures: the Mixer layer's bind() on its arenas, the core op's own saved values.
#include "bench/bench_mixer_cases.h"

#include <new>
#include <stdexcept>

#include "model/arena.h"
#include "model/params.h"

namespace spectral::bench {

namespace {

const MixerSpec& spec_of(const std::string& label) {
  const MixerSpec* s = find_mixer_label(label, nullptr);
  if (!s) throw std::invalid_argument("bench mixers: unknown mixer label \"" + label + "\"");
  return *s;
}

// The whole Mixer layer on random inputs and parameters initialised as the model does.
class LayerCase : public BenchCase {
 public:
  LayerCase(const ModelConfig& mc, int B, int T, std::mt19937_64& rng) {
    mixer_ = make_mixer<float>(mc.mixer[0], mc);
    mixer_->declare(layout_, "mixer.");
    params_ = Buffer(layout_.total());
    init_params(params_.data(), layout_, rng);
    mixer_->init_custom(params_.data(), rng);
    grads_ = Buffer(layout_.total());
    bind_arenas(saved_, scratch_, [&] { mixer_->bind(saved_, scratch_, B, T); });
    const size_t n = (size_t)B * T * mc.d_model;
    in_ = Buffer(n);
    in_.fill_normal(rng, 1.0);
    out_ = Buffer(n);
    din_ = Buffer(n);
    dout_ = Buffer(n);
    dout_.fill_normal(rng, 1.0);
  }
  void forward() override { mixer_->forward(out_.data(), in_.data(), params_.data()); }
  void backward() override {
    mixer_->backward(din_.data(), grads_.data(), dout_.data(), in_.data(), params_.data());
  }

 private:
  std::unique_ptr<Mixer<float>> mixer_;
  ParamLayout layout_;
  Arena<float> saved_, scratch_;
  Buffer params_, grads_, in_, out_, din_, dout_;
};

}  // namespace

ModelConfig mixer_bench_config(const std::string& label, int T, const MixerBenchOptions& o) {
  ModelConfig mc = default_config().model;
  mc.d_model = o.d;
  mc.n_heads = o.heads;
  mc.context = T;
  mc.n_layers = 1;
  set_mixer_label(mc, label);
  for (const auto& s : mixers())
    for (const auto& k : s.bench.knobs) {
      auto it = o.knobs.find(k.flag);
      k.apply(mc, it != o.knobs.end() ? it->second : k.value);
    }
  return mc;
}

std::unique_ptr<BenchCase> make_mixer_case(const std::string& label, int T, const MixerBenchOptions& o,
                                           std::mt19937_64& rng) {
  const ModelConfig mc = mixer_bench_config(label, T, o);
  if (o.layer) return std::make_unique<LayerCase>(mc, o.batch, T, rng);
  return spec_of(label).bench.core(mc, o.batch, rng);
}

std::unique_ptr<BenchCase> make_floor_case(const std::string& label, int T, const MixerBenchOptions& o,
                                           std::mt19937_64& rng) {
  const MixerSpec& s = spec_of(label);
  if (!s.bench.floor) return nullptr;
  return s.bench.floor(mixer_bench_config(label, T, o), o.batch, rng);
}

std::pair<double, double> layer_arena_bytes(const std::string& label, int B, int T, const MixerBenchOptions& o) {
  try {
    const ModelConfig mc = mixer_bench_config(label, T, o);
    auto mixer = make_mixer<float>(mc.mixer[0], mc);
    ParamLayout L;
    mixer->declare(L, "mixer.");
    Arena<float> saved, scratch;
    mixer->bind(saved, scratch, B, T);
    saved.allocate();
    scratch.allocate();
    return {double(saved.bytes()), double(scratch.bytes())};
  } catch (const std::bad_alloc&) {
    return {-1, -1};
  }
}

double core_saved_bytes(const std::string& label, int B, int T, const MixerBenchOptions& o) {
  return 4.0 * spec_of(label).bench.core_saved_values(mixer_bench_config(label, T, o), B);
}

}  // namespace spectral::bench
