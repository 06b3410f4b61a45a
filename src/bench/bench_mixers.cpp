// bench_mixers: the mixer scaling table. Each (mixer, T) is a Case that owns its buffers and runs
// forward / backward either of the core op (ops/attention, ops/fft_conv, ops/rot_scan, as the seeds
// measure) or of the whole Mixer layer (model/mixer_*: projections included). Memory is what the
// Mixer layer's bind() takes from the saved arena (the activations it keeps for backward).
#include "bench/bench_mixers.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <map>
#include <memory>
#include <new>

#include "config/config.h"
#include "model/arena.h"
#include "model/mixer.h"
#include "ops/attention.h"
#include "ops/fft_conv.h"
#include "ops/fft_plan.h"
#include "ops/rot_scan.h"
#include "util/errors.h"
#include "util/threads.h"

namespace spectral::bench {

const std::vector<std::string>& bench_mixer_names() {
  static const std::vector<std::string> names = {"attention", "local", "fft", "rot-lowrank", "rot-headphase",
                                                 "rot-dynamic"};
  return names;
}

std::vector<std::string> parse_mixer_list(const std::string& list) {
  std::vector<std::string> out;
  auto add = [&](const std::string& n) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  };
  size_t at = 0;
  while (at <= list.size()) {
    size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    std::string name = list.substr(at, comma - at);
    at = comma + 1;
    if (name.empty()) continue;
    if (name == "rot") {
      for (const char* v : {"rot-lowrank", "rot-headphase", "rot-dynamic"}) add(v);
    } else if (name == "rot-lowrank" || name == "rot-headphase" || name == "rot-dynamic" || name == "attention" ||
               name == "local" || name == "fft") {
      add(name);
    } else {
      throw InputError("bench: unknown mixer \"" + name +
                       "\" (expected attention, local, fft, rot, rot-lowrank, rot-headphase, rot-dynamic)");
    }
  }
  if (out.empty()) throw InputError("bench: empty mixer list");
  return out;
}

namespace {

// "rot-headphase" → ("rot", "headphase"); others → (name, "").
std::pair<std::string, std::string> split_name(const std::string& name) {
  if (name.rfind("rot-", 0) == 0) return {"rot", name.substr(4)};
  return {name, ""};
}

ModelConfig mixer_config(const std::string& name, int T, const MixerBenchOptions& o) {
  ModelConfig mc = default_config().model;
  mc.d_model = o.d;
  mc.n_heads = o.heads;
  mc.context = T;
  mc.n_layers = 1;
  const auto [base, variant] = split_name(name);
  mc.mixer = {base};
  if (!variant.empty()) mc.rot.variant = variant;
  mc.local.window = o.window;
  return mc;
}

// One thing to time: forward() then backward() (backward reads what the last forward saved).
class Case {
 public:
  virtual ~Case() = default;
  virtual void forward() = 0;
  virtual void backward() = 0;
};

// ---- core ops ------------------------------------------------------------------------------

class AttentionCore : public Case {
 public:
  AttentionCore(int B, int T, int d, int H, int window, std::mt19937_64& rng)
      : B_(B), T_(T), d_(d), H_(H), w_(window) {
    const size_t n = (size_t)B * T * d;
    qkv_ = Buffer(3 * n);
    qkv_.fill_normal(rng, 1.0);
    out_ = Buffer(n);
    probs_ = Buffer(attention_saved_size(B, T, d, H, window));
    dqkv_ = Buffer(3 * n);
    scratch_ = Buffer(attention_scratch_size(B, T, d, H, window));
    dout_ = Buffer(n);
    dout_.fill_normal(rng, 1.0);
  }
  void forward() override { attention_forward(out_.data(), probs_.data(), qkv_.data(), B_, T_, d_, H_, w_); }
  void backward() override {
    attention_backward(dqkv_.data(), scratch_.data(), dout_.data(), qkv_.data(), probs_.data(), B_, T_, d_, H_, w_);
  }

 private:
  int B_, T_, d_, H_, w_;
  Buffer qkv_, out_, probs_, dqkv_, scratch_, dout_;
};

class FftCore : public Case {
 public:
  FftCore(int B, int T, int d, std::mt19937_64& rng) : B_(B), T_(T), d_(d) {
    const size_t n = (size_t)B * T * d;
    u_ = Buffer(n);
    u_.fill_normal(rng, 1.0);
    k_ = Buffer((size_t)d * T);
    k_.fill_normal(rng, 0.02);
    D_ = Buffer(d);
    D_.fill_normal(rng, 1.0);
    y_ = Buffer(n);
    saved_ = Buffer(fft_conv_saved_size(B, T, d));
    du_ = Buffer(n);
    dk_ = Buffer((size_t)d * T);
    dD_ = Buffer(d);
    dy_ = Buffer(n);
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
  Buffer u_, k_, D_, y_, saved_, du_, dk_, dD_, dy_;
};

class RotCore : public Case {
 public:
  RotCore(RotVariant v, int B, int T, int d, int H, std::mt19937_64& rng) : v_(v), B_(B), T_(T) {
    W_ = v == RotVariant::LowRank ? std::max(1, d / 4) : d;  // the mixer's default rank d/4
    Hs_ = v == RotVariant::LowRank ? 1 : H;
    Lv_ = rot_levels(T);
    slots_ = rot_scan_default_slots();
    const size_t n = (size_t)B * T * W_;
    theta0_ = Buffer(n);
    theta0_.fill_normal(rng, 1.0);
    if (v == RotVariant::Dynamic) {
      const int hw = W_ / Hs_;
      phase_ = Buffer((size_t)Lv_ * hw);
      phase_.fill_normal(rng, 0.5 / std::sqrt(double(hw)));  // phases ~ N(0, 0.5²), inside the clamp
    } else {
      phase_ = Buffer((size_t)B * T * Lv_ * rot_phase_width(v, W_, Hs_));
      phase_.fill_normal(rng, 0.5);
    }
    dphase_ = Buffer(phase_.size());
    out_ = Buffer(n);
    saved_ = Buffer(rot_scan_saved_size(v, B, T, W_, Hs_, Lv_));
    work_ = Buffer(rot_scan_work_size(v, T, W_, Hs_, Lv_, slots_));
    dtheta0_ = Buffer(n);
    dout_ = Buffer(n);
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
  Buffer theta0_, phase_, dphase_, out_, saved_, work_, dtheta0_, dout_;
};

// The FFT floor of the fft mixer's forward: the r2c of the B·d input rows and the c2r of their
// products, nothing else (no gather/scatter, no spectral product, no kernel transform), contiguous
// rows, the engine's cached plans, the same OpenMP split over rows.
class FftFloor : public Case {
 public:
  FftFloor(int B, int T, int d, std::mt19937_64& rng) : rows_(B * d) {
    N_ = fft_padded_length(T);
    rs_ = fft_real_stride(N_);
    cs_ = fft_complex_stride(N_);
    in_ = Buffer((size_t)rows_ * rs_);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (int r = 0; r < rows_; r++)
      for (int t = 0; t < T; t++) in_.data()[(size_t)r * rs_ + t] = normal(rng);
    spec_ = Buffer((size_t)rows_ * cs_ * 2);
    out_ = Buffer((size_t)rows_ * rs_);
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
  Buffer in_, spec_, out_;
};

// ---- whole layer ---------------------------------------------------------------------------

void init_params(float* p, const ParamLayout& L, const Mixer<float>& m, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const auto& s : L.specs())
    for (size_t i = 0; i < s.size; i++)
      p[s.offset + i] = s.init == Init::Normal ? float(s.init_std * normal(rng)) : s.init == Init::Ones ? 1.f : 0.f;
  m.init_custom(p, rng);
}

class LayerCase : public Case {
 public:
  LayerCase(const std::string& name, int B, int T, const MixerBenchOptions& o, std::mt19937_64& rng) {
    const ModelConfig mc = mixer_config(name, T, o);
    mixer_ = make_mixer<float>(mc.mixer[0], mc);
    mixer_->declare(layout_, "mixer.");
    params_ = Buffer(layout_.total());
    init_params(params_.data(), layout_, *mixer_, rng);
    grads_ = Buffer(layout_.total());
    mixer_->bind(saved_, scratch_, B, T);
    saved_.allocate();
    scratch_.allocate();
    mixer_->bind(saved_, scratch_, B, T);
    const size_t n = (size_t)B * T * o.d;
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
  size_t saved_bytes() const { return saved_.bytes(); }
  size_t scratch_bytes() const { return scratch_.bytes(); }

 private:
  std::unique_ptr<Mixer<float>> mixer_;
  ParamLayout layout_;
  Arena<float> saved_, scratch_;
  Buffer params_, grads_, in_, out_, din_, dout_;
};

// Saved and scratch arena bytes of the Mixer layer at (B, T), from its bind(); {-1, -1} when the
// arenas cannot even be reserved (allocate() asks for the memory; untouched pages cost nothing).
std::pair<double, double> layer_arena_bytes(const std::string& name, int B, int T, const MixerBenchOptions& o) {
  try {
    const ModelConfig mc = mixer_config(name, T, o);
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

// The core op's own saved values (bytes).
double core_saved_bytes(const std::string& name, int B, int T, const MixerBenchOptions& o) {
  const auto [base, variant] = split_name(name);
  if (base == "attention") return 4.0 * attention_saved_size(B, T, o.d, o.heads, T);
  if (base == "local") return 4.0 * attention_saved_size(B, T, o.d, o.heads, o.window);
  if (base == "fft") return 4.0 * fft_conv_saved_size(B, T, o.d);
  const RotVariant v = rot_variant_from_name(variant);
  const int W = v == RotVariant::LowRank ? std::max(1, o.d / 4) : o.d, Hs = v == RotVariant::LowRank ? 1 : o.heads;
  return 4.0 * rot_scan_saved_size(v, B, T, W, Hs, rot_levels(T));
}

std::unique_ptr<Case> make_case(const std::string& name, int T, const MixerBenchOptions& o, std::mt19937_64& rng) {
  if (o.layer) return std::make_unique<LayerCase>(name, o.batch, T, o, rng);
  const auto [base, variant] = split_name(name);
  if (base == "attention") return std::make_unique<AttentionCore>(o.batch, T, o.d, o.heads, T, rng);
  if (base == "local") return std::make_unique<AttentionCore>(o.batch, T, o.d, o.heads, o.window, rng);
  if (base == "fft") return std::make_unique<FftCore>(o.batch, T, o.d, rng);
  return std::make_unique<RotCore>(rot_variant_from_name(variant), o.batch, T, o.d, o.heads, rng);
}

std::string mib(double bytes) { return bytes < 0 ? "n/a" : num(bytes / (1024.0 * 1024.0)); }

struct Row {
  int T = 0;
  std::string mixer, status = "ok";
  double fwd = NAN, fwdbwd = NAN, floor = NAN, saved = -1, scratch = -1, core_saved = -1;
  int fwd_n = 0, fwdbwd_n = 0;
};

}  // namespace

int run_mixer_bench(const MixerBenchOptions& o) {
  if (o.t_min < 2 || o.t_max < o.t_min) throw InputError("bench mixers: need 2 <= --t-min <= --t-max");
  if (o.d < 1 || o.batch < 1 || o.heads < 1 || o.d % o.heads != 0)
    throw InputError("bench mixers: --d, --batch, --heads must be positive and --d divisible by --heads");
  if (o.window < 1) throw InputError("bench mixers: --window must be >= 1");
  if (o.d < 4) throw InputError("bench mixers: --d must be >= 4 (rot lowrank uses rank d/4)");
  const int threads = num_threads();
  std::printf("%s\n", machine_line(threads).c_str());
  std::printf("bench mixers: %s, d=%d, batch=%d, heads=%d, local window=%d, T=%d..%d\n",
              o.layer ? "whole Mixer layer (projections included)" : "core mixing op (as the seeds measure)", o.d,
              o.batch, o.heads, o.window, o.t_min, o.t_max);
  std::printf("each figure: median of >= %d timed runs after %d warm-up (>= %d runs once it has used %.1f s); attention "
              "capped at T <= %d, any mixer at a predicted %.0f s per forward+backward\n",
              o.timing.repeats, o.timing.warmup, o.timing.min_samples, o.timing.budget_s, o.attention_cap_t,
              o.time_cap_s);
  std::printf("saved MiB = activations the Mixer layer keeps for backward (its bind() on the saved arena)\n\n");
  std::fflush(stdout);

  Csv csv(o.csv, {"mode", "T", "d", "batch", "heads", "mixer", "fwd_ms", "fwdbwd_ms", "saved_bytes", "scratch_bytes",
                  "core_saved_bytes", "fft_floor_ms", "fwd_over_floor", "fwd_samples", "fwdbwd_samples", "threads",
                  "status"});
  Table table({"T", "mixer", "fwd ms", "fwd+bwd ms", "saved MiB", "FFT floor ms", "fft/floor", "note"});
  std::vector<Row> rows;
  std::map<std::string, std::pair<int, double>> last;  // mixer → (T, fwd+bwd ms) of its last measurement
  std::map<std::string, std::string> stopped;          // mixer → why it stopped
  std::mt19937_64 rng(1234);

  std::vector<int> Ts;
  for (long T = o.t_min; T <= o.t_max; T *= 2) Ts.push_back(int(T));

  for (int T : Ts) {
    for (const auto& name : o.mixers) {
      Row r;
      r.T = T;
      r.mixer = name;
      const auto bytes = layer_arena_bytes(name, o.batch, T, o);
      r.saved = bytes.first;
      r.scratch = bytes.second;
      r.core_saved = core_saved_bytes(name, o.batch, T, o);
      const bool quadratic = name == "attention";
      if (quadratic && T > o.attention_cap_t) {
        r.status = fmt("skipped: T > cap %d", o.attention_cap_t);
      } else if (stopped.count(name)) {
        r.status = stopped[name];
      } else if (last.count(name)) {
        const double grow = double(T) / last[name].first;
        const double predicted_s = 1e-3 * last[name].second * (quadratic ? grow * grow : grow * 1.2);
        if (predicted_s > o.time_cap_s) {
          r.status = fmt("skipped: predicted %.0f s > time cap %.0f s", predicted_s, o.time_cap_s);
          stopped[name] = fmt("skipped: time cap %.0f s reached at smaller T", o.time_cap_s);
        }
      }
      if (r.status == "ok") {
        try {
          std::unique_ptr<Case> c = make_case(name, T, o, rng);
          // one untimed forward+backward first (plans, first touch of every buffer); if it alone takes
          // longer than the budget, forward and forward+backward come from the same runs (forward
          // timed inside each forward+backward) instead of separate series, halving the cost
          const double t0 = now_seconds();
          c->forward();
          c->backward();
          const double first_s = now_seconds() - t0;
          TimingOptions topt = o.timing;
          topt.warmup = std::max(0, o.timing.warmup - 1);
          if (first_s > o.timing.budget_s) {
            std::vector<double> fwd_ms;
            int calls = 0;
            const Timing fb = time_median(
                [&] {
                  const double a = now_seconds();
                  c->forward();
                  const double b = now_seconds();
                  c->backward();
                  if (calls++ >= topt.warmup) fwd_ms.push_back(1e3 * (b - a));
                },
                topt);
            r.fwd_n = (int)fwd_ms.size();
            r.fwd = median(std::move(fwd_ms));
            r.fwdbwd = fb.median_ms;
            r.fwdbwd_n = fb.samples;
          } else {
            const Timing f = time_median([&] { c->forward(); }, topt);
            const Timing fb = time_median(
                [&] {
                  c->forward();
                  c->backward();
                },
                topt);
            r.fwd = f.median_ms;
            r.fwdbwd = fb.median_ms;
            r.fwd_n = f.samples;
            r.fwdbwd_n = fb.samples;
          }
          last[name] = {T, r.fwdbwd};
          if (first_s > o.time_cap_s && r.fwdbwd > 1e3 * o.time_cap_s)
            stopped[name] = fmt("skipped: time cap %.0f s reached", o.time_cap_s);
          if (name == "fft" && o.floor) {
            c.reset();
            FftFloor fl(o.batch, T, o.d, rng);
            r.floor = time_median([&] { fl.forward(); }, o.timing).median_ms;
          }
        } catch (const std::bad_alloc&) {
          r.status = "skipped: out of memory";
          stopped[name] = r.status;
        }
      }
      const bool ran = r.status == "ok";
      const bool has_floor = std::isfinite(r.floor);
      table.add({std::to_string(T), name, ran ? num(r.fwd) : "-", ran ? num(r.fwdbwd) : "-", mib(r.saved),
                 has_floor ? num(r.floor) : "", has_floor ? fmt("%.2f", r.fwd / r.floor) : "", ran ? "" : r.status});
      csv.row({o.layer ? "layer" : "core", std::to_string(T), std::to_string(o.d), std::to_string(o.batch),
               std::to_string(o.heads), name, ran ? fmt("%.6g", r.fwd) : "", ran ? fmt("%.6g", r.fwdbwd) : "",
               r.saved >= 0 ? fmt("%.0f", r.saved) : "", r.scratch >= 0 ? fmt("%.0f", r.scratch) : "",
               fmt("%.0f", r.core_saved), has_floor ? fmt("%.6g", r.floor) : "",
               has_floor ? fmt("%.4g", r.fwd / r.floor) : "", std::to_string(r.fwd_n), std::to_string(r.fwdbwd_n),
               std::to_string(threads), r.status});
      rows.push_back(r);
      // progress on stderr (the table comes at the end, aligned)
      std::fprintf(stderr, "  T=%-6d %-14s %s\n", T, name.c_str(),
                   ran ? fmt("fwd %s ms, fwd+bwd %s ms", num(r.fwd).c_str(), num(r.fwdbwd).c_str()).c_str()
                       : r.status.c_str());
    }
  }
  table.print(stdout);

  // ---- summary ---------------------------------------------------------------------------------
  auto find = [&](const std::string& m, int T) -> const Row* {
    for (const auto& r : rows)
      if (r.mixer == m && r.T == T && r.status == "ok") return &r;
    return nullptr;
  };
  std::printf("\n");
  {
    std::vector<double> x, y, xr, yr, x4, y4;
    for (const auto& r : rows)
      if (r.mixer == "fft" && r.status == "ok") {
        x.push_back(r.T);
        y.push_back(r.fwdbwd);
        yr.push_back(r.T * std::log2(double(r.T)));
        if (r.T >= 4096) {
          x4.push_back(r.T);
          y4.push_back(r.fwdbwd);
        }
      }
    if (x.size() >= 2) {
      std::printf("fft forward+backward vs T, log-log slope over T=%.0f..%.0f: %.3f  (T log T over the same Ts: %.3f; "
                  "T^2: 2)\n",
                  x.front(), x.back(), loglog_slope(x, y), loglog_slope(x, yr));
      if (x4.size() >= 2) {
        std::vector<double> y4r;
        for (double t : x4) y4r.push_back(t * std::log2(t));
        std::printf("fft forward+backward vs T, log-log slope over T=%.0f..%.0f: %.3f  (T log T: %.3f)\n", x4.front(),
                    x4.back(), loglog_slope(x4, y4), loglog_slope(x4, y4r));
      }
    }
  }
  {
    // attention/fft forward ratio at every T where both ran
    std::string line;
    for (int T : Ts) {
      const Row *a = find("attention", T), *f = find("fft", T);
      if (a && f) line += fmt("  T=%d: %.1fx", T, a->fwd / f->fwd);
    }
    if (!line.empty()) std::printf("attention/fft forward time:%s\n", line.c_str());
  }
  if (o.layer) {
    std::printf("(issue 4's mixer targets refer to the core op: run without --layer to check them)\n");
    std::printf("load average at the end: %s\n", load_average().c_str());
    if (!o.csv.empty()) std::printf("raw rows: %s\n", o.csv.c_str());
    return 0;
  }
  if (const Row* f = find("fft", 4096); f && std::isfinite(f->floor))
    std::printf("fft forward at T=4096: %s ms, FFT floor %s ms, ratio %.2f (issue 4 target <= 1.3 at d=256)\n",
                num(f->fwd).c_str(), num(f->floor).c_str(), f->fwd / f->floor);
  for (const char* v : {"rot-lowrank", "rot-headphase", "rot-dynamic"})
    if (const Row* r = find(v, 4096))
      std::printf("%s forward at T=4096: %s ms (issue 4 target <= 3 ms at d=256)\n", v, num(r->fwd).c_str());
  if (const Row *a = find("attention", 16384), *f = find("fft", 16384); a && f)
    std::printf("attention/fft forward at T=16384: %.0fx (issue 4 target >= 100x)\n", a->fwd / f->fwd);
  std::printf("load average at the end: %s\n", load_average().c_str());
  if (!o.csv.empty()) std::printf("raw rows: %s\n", o.csv.c_str());
  return 0;
}

}  // namespace spectral::bench
