// mixer_fft_spec: the fft mixer's registry entry (model/mixer_registry.h) — its keys and config
// rules, its layer (model/mixer_fft), and what the benchmarks need: FLOPs, the values ops/fft_conv
// saves, fft_conv alone on random inputs, and the FFT floor its forward is measured against.
#include <cmath>
#include <complex>

#include "model/mixer_fft.h"
#include "model/mixer_registry.h"
#include "ops/fft_conv.h"
#include "ops/fft_plan.h"
#include "util/float_buffer.h"
#include "util/threads.h"

namespace spectral {

namespace {

void check(const ModelConfig& m, bool /*used*/) {
  check_positive("model.fft.decay_min", m.fft.decay_min);
  check_positive("model.fft.decay_max", m.fft.decay_max);
  if (m.fft.kernel_std < 0) throw ConfigError("config key model.fft.kernel_std: must be >= 0");
  if (m.fft.step_block < 0) throw ConfigError("config key model.fft.step_block: must be >= 0");
}

template <typename T>
std::unique_ptr<Mixer<T>> make(const ModelConfig& cfg) {
  return std::make_unique<FftMixer<T>>(cfg);
}

// Projections: 2·N·d·d each for Win, Wo (and Wg with the gate). Core: real FFTs of length
// Nf = fft_padded_length(T), 2.5·Nf·log2(Nf) each: forward B·d r2c + d r2c (kernel) + B·d c2r,
// backward B·d r2c + B·d c2r + d c2r (kernel gradient); spectral products 6 flops per complex bin
// forward, 14 backward (two products and an accumulation); skip term 2·B·T·d forward, 4·B·T·d
// backward.
MixerFlops flops(const ModelConfig& mc, int B, int T) {
  const double N = double(B) * T, d = mc.d_model;
  MixerFlops f;
  f.dense = 2 * N * d * d * (mc.fft.gate ? 3 : 2);
  const double Nf = fft_padded_length(T), nb = fft_bins(int(Nf));
  const double per_fft = 2.5 * Nf * std::log2(Nf);
  const double transforms = (2 * B * d + d) * 2;
  f.core = transforms * per_fft + B * d * nb * (6 + 14) + 6 * N * d;
  return f;
}

// ops/fft_conv on random inputs (u (B,T,d), taps (d,T), D (d)).
class Core : public BenchCase {
 public:
  Core(int B, int T, int d, std::mt19937_64& rng) : B_(B), T_(T), d_(d) {
    const size_t n = (size_t)B * T * d;
    u_ = FloatBuffer(n);
    u_.fill_normal(rng, 1.0);
    k_ = FloatBuffer((size_t)d * T);
    k_.fill_normal(rng, 0.02);
    D_ = FloatBuffer(d);
    D_.fill_normal(rng, 1.0);
    y_ = FloatBuffer(n);
    saved_ = FloatBuffer(fft_conv_saved_size(B, T, d));
    du_ = FloatBuffer(n);
    dk_ = FloatBuffer((size_t)d * T);
    dD_ = FloatBuffer(d);
    dy_ = FloatBuffer(n);
    dy_.fill_normal(rng, 1.0);
  }
  // As the fft mixer does: forwards with unchanged weights reuse the kernel's spectra (evaluation);
  // a backward stands for a training step, whose update changes the kernel, so the forward after
  // it transforms the kernel again.
  void forward() override {
    fft_conv_forward(y_.data(), saved_.data(), u_.data(), k_.data(), T_, D_.data(), B_, T_, d_, kernel_ready_);
    kernel_ready_ = true;
  }
  void backward() override {
    fft_conv_backward(du_.data(), dk_.data(), dD_.data(), dy_.data(), u_.data(), k_.data(), T_, D_.data(),
                      saved_.data(), B_, T_, d_);
    kernel_ready_ = false;
  }

 private:
  int B_, T_, d_;
  bool kernel_ready_ = false;
  FloatBuffer u_, k_, D_, y_, saved_, du_, dk_, dD_, dy_;
};

// The FFT floor of the forward: the r2c of the B·d input rows and the c2r of their products,
// nothing else (no gather/scatter, no spectral product, no kernel transform), contiguous rows, the
// engine's cached plans, the same OpenMP split over rows.
class Floor : public BenchCase {
 public:
  Floor(int B, int T, int d, std::mt19937_64& rng) : rows_(B * d) {
    N_ = fft_padded_length(T);
    rs_ = fft_real_stride(N_);
    cs_ = fft_complex_stride(N_);
    in_ = FloatBuffer((size_t)rows_ * rs_);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (int r = 0; r < rows_; r++)
      for (int t = 0; t < T; t++) in_.data()[(size_t)r * rs_ + t] = normal(rng);
    spec_ = FloatBuffer((size_t)rows_ * cs_ * 2);
    out_ = FloatBuffer((size_t)rows_ * rs_);
    real_fft<float>(N_);  // plan outside the parallel region
  }
  void forward() override {
    const RealFft<float>& fft = real_fft<float>(N_);
    auto* spec = reinterpret_cast<std::complex<float>*>(spec_.data());
#pragma omp parallel for schedule(static) if ((long)rows_ * N_ >= kMinParallelWork)
    for (int r = 0; r < rows_; r++) {
      fft.forward(in_.data() + (size_t)r * rs_, spec + (size_t)r * cs_);
      fft.inverse(spec + (size_t)r * cs_, out_.data() + (size_t)r * rs_);
    }
  }
  void backward() override {}

 private:
  int rows_, N_ = 0, rs_ = 0, cs_ = 0;
  FloatBuffer in_, spec_, out_;
};

}  // namespace

MixerSpec fft_mixer_spec() {
  MixerSpec s;
  s.name = "fft";
  s.summary = "causal FFT long convolution, a learned kernel per channel (optional Hyena-style gate): O(T log T)";
  s.keys = {"model.fft.gate", "model.fft.kernel_std", "model.fft.decay_min", "model.fft.decay_max", "model.fft.step_block"};
  s.check = check;
  s.make_float = make<float>;
  s.make_double = make<double>;
  s.bench.flops = flops;
  s.bench.core_saved_values = [](const ModelConfig& m, int B) { return fft_conv_saved_size(B, m.context, m.d_model); };
  s.bench.core = [](const ModelConfig& m, int B, std::mt19937_64& rng) -> std::unique_ptr<BenchCase> {
    return std::make_unique<Core>(B, m.context, m.d_model, rng);
  };
  s.bench.floor_label = "FFT floor";
  s.bench.floor = [](const ModelConfig& m, int B, std::mt19937_64& rng) -> std::unique_ptr<BenchCase> {
    return std::make_unique<Floor>(B, m.context, m.d_model, rng);
  };
  s.bench.reference = true;
  s.bench.targets = {{BenchTarget::FloorRatio, 4096, ""}};
  return s;
}

}  // namespace spectral
