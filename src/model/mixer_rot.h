// mixer_rot: the rotational binary-dilated mixer of model.md (seed 000), three variants:
//   lowrank    θ_0 = Wθ·x (width r),                 φ = Wφ·x viewed (Lv, r),  c = 1
//   headphase  θ_0 = RMSNorm_noweight(Wθ·x) (width d), φ = Wφ·x viewed (Lv, H),  c = 1/√2
//   dynamic    θ_0 as headphase, φ_l[t,h] = clamp(w_l · θ_l[t,h,:], −4, 4),    c = 1/√2
//   then θ_{l+1} = c·(cos φ_l ⊙ θ_l + sin φ_l ⊙ shift_{2^l} θ_l), out = Wo·θ_Lv, Lv = bit_length(context−1).
// Parameters: w_theta (W,d), w_phi (Lv·P, d) [lowrank: P = r; headphase: P = H] or w_level (Lv, d/H)
// [dynamic], w_out (d,W). The level loop itself is ops/rot_scan.
#pragma once

#include <vector>

#include "model/mixer.h"
#include "ops/rot_scan.h"

namespace spectral {

// The lowrank θ width r: model.rot.rank, or d_model/4 when that is 0. The one place that derives it
// (defined with the rot registry entry, model/mixer_rot_spec.cpp).
int rot_rank(const ModelConfig& cfg);

template <typename T>
class RotMixer : public Mixer<T> {
 public:
  explicit RotMixer(const ModelConfig& cfg);
  void declare(ParamLayout& layout, const std::string& prefix) override;
  void bind(Arena<T>& saved, Arena<T>& scratch, int B, int Tn) override;
  void forward(T* out, const T* in, const T* params) override;
  void backward(T* din, T* dparams, const T* dout, const T* in, const T* params) override;
  void begin_incremental(int max_len) override;
  void step(T* out, const T* in, int pos, const T* params) override;
  void prefill(T* out, const T* in, const T* params, int out_from) override;
  void begin_streams(int S) override;
  void store_stream(int i) override;
  void step_streams(T* out, const T* in, int pos, const T* params, int first, int count) override;
  size_t stream_bytes(int max_len) const override;

 private:
  bool normed() const { return variant_ != RotVariant::LowRank; }  // θ_0 through RMSNorm
  int scan_heads() const { return variant_ == RotVariant::LowRank ? 1 : H_; }
  // θ_0 (and u, rstd) and φ of the bound rows from in; returns the scan's phase argument.
  const T* project_in(const T* in, const T* params);

  RotVariant variant_;
  int d_, H_, context_, Lv_;
  int W_;  // θ width: r (lowrank) or d
  int P_;  // phases per level from Wφ: r (lowrank) or H (headphase); 0 for dynamic
  size_t w_theta_ = 0, w_phi_ = 0, w_level_ = 0, w_out_ = 0;
  int B_ = 0, T_ = 0, slots_ = 1;
  T *u_ = nullptr, *rstd_ = nullptr, *theta0_ = nullptr, *thetaL_ = nullptr, *trig_ = nullptr;  // saved
  T *phi_ = nullptr, *work_ = nullptr, *dthetaL_ = nullptr, *dtheta0_ = nullptr, *du_ = nullptr;  // scratch
  // incremental: the step's per-level rings of past states (rot_scan_state_size) and scratch; one
  // position of temporaries (θ_0, θ_Lv, u, rstd, φ).
  int inc_len_ = 0;
  std::vector<T> inc_state_, inc_work_, inc_;
  // streams: the S streams' rings interleaved (ops/rot_scan_step_batch), S scratch, S rows of temporaries
  int streams_ = 0;
  std::vector<T> st_state_, st_work_, st_;
};

}  // namespace spectral
