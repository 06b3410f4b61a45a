// mixer_rot_spec: the rot mixer's registry entry (model/mixer_registry.h) — its variants, keys and
// config rules, the one derivation of the lowrank rank, its layer (model/mixer_rot), and what the
// benchmarks need: FLOPs, the values ops/rot_scan saves, rot_scan alone on random inputs.
#include <algorithm>
#include <cmath>

#include "model/mixer_registry.h"
#include "model/mixer_rot.h"
#include "ops/rot_scan.h"
#include "util/float_buffer.h"

namespace spectral {

int rot_rank(const ModelConfig& m) { return m.rot.rank > 0 ? m.rot.rank : m.d_model / 4; }

namespace {

const std::vector<std::string> kVariants = {"lowrank", "headphase", "dynamic"};

// θ width W: the rank (lowrank) or d_model.
int theta_width(const ModelConfig& m, RotVariant v) { return v == RotVariant::LowRank ? rot_rank(m) : m.d_model; }
// Heads of the scan: 1 (lowrank: one phase per channel) or n_heads.
int scan_heads(const ModelConfig& m, RotVariant v) { return v == RotVariant::LowRank ? 1 : m.n_heads; }

void check(const ModelConfig& m, bool used) {
  if (std::find(kVariants.begin(), kVariants.end(), m.rot.variant) == kVariants.end()) {
    std::string expected;  // "a, b or c"
    for (size_t i = 0; i < kVariants.size(); i++)
      expected += (i == 0 ? "" : i + 1 == kVariants.size() ? " or " : ", ") + kVariants[i];
    throw ConfigError("config key model.rot.variant: expected " + expected + ", got " +
                      quote_for_message(m.rot.variant));
  }
  if (m.rot.rank < 0) throw ConfigError("config key model.rot.rank: must be >= 0 (0 = d_model/4)");
  if (!used) return;
  const int rank = rot_rank(m);
  if (rot_variant_from_name(m.rot.variant) == RotVariant::LowRank && rank < 1)
    throw ConfigError("config key model.rot.rank: 0 means d_model/4, which is 0 for model.d_model = " +
                      std::to_string(m.d_model) + "; give a rank >= 1");
  if (rank % m.n_heads != 0)
    throw ConfigError("config key model.rot.rank: " + std::to_string(rank) + " is not divisible by model.n_heads = " +
                      std::to_string(m.n_heads));
}

template <typename T>
std::unique_ptr<Mixer<T>> make(const ModelConfig& cfg) {
  return std::make_unique<RotMixer<T>>(cfg);
}

// Projections (θ width W, Lv levels): lowrank 2·N·d·W + 2·N·d·(Lv·W) + 2·N·W·d; headphase
// 2·N·d·d + 2·N·d·(Lv·H) + 2·N·d·d; dynamic 2·N·d·d + 2·N·d·d. Core: E = B·T·W·Lv element-levels,
// 3·E forward (two multiplies, one add), 10·E backward (recomputing the states 3·E, state and phase
// gradients 7·E); dynamic adds its phase dot products, 2·E forward and 4·E backward.
MixerFlops flops(const ModelConfig& mc, int B, int T) {
  const double N = double(B) * T, d = mc.d_model;
  const int Lv = rot_levels(mc.context);
  const RotVariant v = rot_variant_from_name(mc.rot.variant);
  const double W = theta_width(mc, v);
  MixerFlops f;
  if (v == RotVariant::LowRank)
    f.dense = 2 * N * d * W + 2 * N * d * (Lv * W) + 2 * N * W * d;
  else if (v == RotVariant::HeadPhase)
    f.dense = 2 * N * d * d + 2 * N * d * (double(Lv) * mc.n_heads) + 2 * N * d * d;
  else
    f.dense = 4 * N * d * d;
  const double E = N * W * Lv;
  f.core = (v == RotVariant::Dynamic ? 19 : 13) * E;
  return f;
}

size_t core_saved_values(const ModelConfig& m, int B) {
  const RotVariant v = rot_variant_from_name(m.rot.variant);
  return rot_scan_saved_size(v, B, m.context, theta_width(m, v), scan_heads(m, v), rot_levels(m.context));
}

// ops/rot_scan on random inputs (θ_0 (B,T,W); phases φ, or w for dynamic).
class Core : public BenchCase {
 public:
  Core(const ModelConfig& m, int B, std::mt19937_64& rng)
      : v_(rot_variant_from_name(m.rot.variant)), B_(B), T_(m.context) {
    W_ = theta_width(m, v_);
    Hs_ = scan_heads(m, v_);
    Lv_ = rot_levels(T_);
    slots_ = rot_scan_default_slots();
    const size_t n = (size_t)B * T_ * W_;
    theta0_ = FloatBuffer(n);
    theta0_.fill_normal(rng, 1.0);
    if (v_ == RotVariant::Dynamic) {
      const int hw = W_ / Hs_;
      phase_ = FloatBuffer((size_t)Lv_ * hw);
      phase_.fill_normal(rng, 0.5 / std::sqrt(double(hw)));  // phases ~ N(0, 0.5²), inside the clamp
    } else {
      phase_ = FloatBuffer((size_t)B * T_ * Lv_ * rot_phase_width(v_, W_, Hs_));
      phase_.fill_normal(rng, 0.5);
    }
    dphase_ = FloatBuffer(phase_.size());
    out_ = FloatBuffer(n);
    saved_ = FloatBuffer(rot_scan_saved_size(v_, B, T_, W_, Hs_, Lv_));
    work_ = FloatBuffer(rot_scan_work_size(v_, T_, W_, Hs_, Lv_, slots_));
    dtheta0_ = FloatBuffer(n);
    dout_ = FloatBuffer(n);
    dout_.fill_normal(rng, 1.0);
  }
  void forward() override {
    rot_scan_forward(out_.data(), saved_.data(), work_.data(), theta0_.data(), phase_.data(), v_, B_, T_, W_, Hs_,
                     Lv_, slots_);
  }
  void backward() override {
    rot_scan_backward(dtheta0_.data(), dphase_.data(), work_.data(), dout_.data(), theta0_.data(),
                      v_ == RotVariant::Dynamic ? phase_.data() : nullptr, saved_.data(), v_, B_, T_, W_, Hs_, Lv_,
                      slots_);
  }

 private:
  RotVariant v_;
  int B_, T_, W_ = 0, Hs_ = 1, Lv_ = 0, slots_ = 1;
  FloatBuffer theta0_, phase_, dphase_, out_, saved_, work_, dtheta0_, dout_;
};

}  // namespace

MixerSpec rot_mixer_spec() {
  MixerSpec s;
  s.name = "rot";
  s.summary = "rotational binary-dilated scan over log2(context) levels: O(T log T)";
  s.keys = {"model.rot.variant", "model.rot.rank", "model.n_heads"};
  s.variants = kVariants;
  s.variant_key = "model.rot.variant";
  s.variant_of = [](const ModelConfig& m) { return m.rot.variant; };
  s.set_variant = [](ModelConfig& m, const std::string& v) { m.rot.variant = v; };
  s.check = check;
  s.make_float = make<float>;
  s.make_double = make<double>;
  s.bench.flops = flops;
  s.bench.core_saved_values = core_saved_values;
  s.bench.core = [](const ModelConfig& m, int B, std::mt19937_64& rng) -> std::unique_ptr<BenchCase> {
    return std::make_unique<Core>(m, B, rng);
  };
  s.bench.targets = {{BenchTarget::ForwardMs, 4096, ""}};
  return s;
}

}  // namespace spectral
