// mixer_rot: wiring of the rot mixer (projections and RMSNorm around ops/rot_scan), and of its
// incremental step (the same projections around ops/rot_scan's step; its ring buffers live here).
//
// Initialisation (all Normal, all with weight decay):
//   w_theta  std 1/√d          fan-in scaling: θ_0 = Wθ·x has entries of the scale of x's
//   w_phi    std 0.5/√d        initial phases ~ N(0, 0.5²) rad for unit-RMS inputs: cos ≈ 0.9,
//                              |sin| ≈ 0.4, so each level starts mixing in a modest share of the
//                              shifted state (zero phases would leave the shift unused)
//   w_level  std 0.5/√(d/H)    the same ~0.5 rad for level 0 (θ_0 is RMS-normalised, so each head's
//                              row has norm ≈ √(d/H)); far inside the ±4 clamp
//   w_out    std 1/√W          fan-in scaling
// With c = 1/√2 (headphase, dynamic) the state's variance roughly halves per level, so those
// variants start with outputs ≈ 2^(−Lv/2) of the lowrank scale (1/16 at context 256): the seed's
// choice of c, kept as the contract says.
#include "model/mixer_rot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "ops/linear.h"
#include "ops/rmsnorm.h"

namespace spectral {

template <typename T>
RotMixer<T>::RotMixer(const ModelConfig& cfg)
    : variant_(rot_variant_from_name(cfg.rot.variant)),
      d_(cfg.d_model),
      H_(cfg.n_heads),
      context_(cfg.context),
      Lv_(rot_levels(cfg.context)) {
  if (context_ < 2) throw std::invalid_argument("rot mixer: context must be at least 2 (it has log2(context) levels)");
  if (variant_ == RotVariant::LowRank) {
    W_ = rot_rank(cfg);
    if (W_ < 1) throw std::invalid_argument("rot mixer: lowrank rank resolves to 0 (d_model < 4?)");
    P_ = W_;
  } else {
    if (H_ < 1 || d_ % H_ != 0) throw std::invalid_argument("rot mixer: d_model must be divisible by n_heads");
    W_ = d_;
    P_ = variant_ == RotVariant::HeadPhase ? H_ : 0;
  }
}

template <typename T>
void RotMixer<T>::declare(ParamLayout& L, const std::string& p) {
  w_theta_ = L.add(p + "w_theta", {W_, d_}, Init::Normal, 1.0 / std::sqrt(double(d_)), true);
  if (variant_ == RotVariant::Dynamic)
    w_level_ = L.add(p + "w_level", {Lv_, d_ / H_}, Init::Normal, 0.5 / std::sqrt(double(d_ / H_)), true);
  else
    w_phi_ = L.add(p + "w_phi", {Lv_ * P_, d_}, Init::Normal, 0.5 / std::sqrt(double(d_)), true);
  w_out_ = L.add(p + "w_out", {d_, W_}, Init::Normal, 1.0 / std::sqrt(double(W_)), true);
}

template <typename T>
void RotMixer<T>::bind(Arena<T>& saved, Arena<T>& scratch, int B, int Tn) {
  if (Tn < 1 || Tn > context_) throw std::invalid_argument("rot mixer: sequence length outside 1..context");
  B_ = B;
  T_ = Tn;
  slots_ = rot_scan_default_slots();  // the same in the counting and the handing-out pass
  const size_t N = size_t(B) * Tn;
  if (normed()) {
    u_ = saved.take(N * d_);
    rstd_ = saved.take(N);
  }
  theta0_ = saved.take(N * W_);
  thetaL_ = saved.take(N * W_);
  trig_ = saved.take(rot_scan_saved_size(variant_, B, Tn, W_, scan_heads(), Lv_));
  if (P_ > 0) phi_ = scratch.take(N * Lv_ * P_);  // φ in forward, ∂φ in backward
  work_ = scratch.take(rot_scan_work_size(variant_, Tn, W_, scan_heads(), Lv_, slots_));
  dthetaL_ = scratch.take(N * W_);
  dtheta0_ = scratch.take(N * W_);
  if (normed()) du_ = scratch.take(N * d_);
}

template <typename T>
const T* RotMixer<T>::project_in(const T* in, const T* P) {
  const int N = B_ * T_;
  if (normed()) {
    linear_forward(u_, in, P + w_theta_, (const T*)nullptr, N, d_, d_);
    rmsnorm_forward(theta0_, rstd_, u_, (const T*)nullptr, N, d_);
  } else {
    linear_forward(theta0_, in, P + w_theta_, (const T*)nullptr, N, d_, W_);
  }
  if (P_ == 0) return P + w_level_;
  linear_forward(phi_, in, P + w_phi_, (const T*)nullptr, N, d_, Lv_ * P_);
  return phi_;
}

template <typename T>
void RotMixer<T>::forward(T* out, const T* in, const T* P) {
  const T* phase = project_in(in, P);
  rot_scan_forward(thetaL_, trig_, work_, theta0_, phase, variant_, B_, T_, W_, scan_heads(), Lv_, slots_);
  linear_forward(out, thetaL_, P + w_out_, (const T*)nullptr, B_ * T_, W_, d_);
}

template <typename T>
void RotMixer<T>::backward(T* din, T* dP, const T* dout, const T* in, const T* P) {
  const int N = B_ * T_;
  const size_t nW = size_t(N) * W_;
  std::memset(dthetaL_, 0, nW * sizeof(T));
  linear_backward(dthetaL_, dP + w_out_, (T*)nullptr, dout, thetaL_, P + w_out_, N, W_, d_);
  std::memset(dtheta0_, 0, nW * sizeof(T));
  // lowrank/headphase: the scan's backward needs only the saved cos/sin, not φ (whose scratch
  // buffer now receives ∂φ); dynamic: it needs w and adds into ∂w directly
  const T* phase = P_ > 0 ? nullptr : P + w_level_;
  T* dphase = P_ > 0 ? phi_ : dP + w_level_;
  if (P_ > 0) std::memset(phi_, 0, size_t(N) * Lv_ * P_ * sizeof(T));
  rot_scan_backward(dtheta0_, dphase, work_, dthetaL_, theta0_, phase, trig_, variant_, B_, T_, W_, scan_heads(), Lv_,
                    slots_);
  if (normed()) {
    std::memset(du_, 0, size_t(N) * d_ * sizeof(T));
    rmsnorm_backward(du_, (T*)nullptr, dtheta0_, u_, (const T*)nullptr, rstd_, N, d_);
    linear_backward(din, dP + w_theta_, (T*)nullptr, du_, in, P + w_theta_, N, d_, d_);
  } else {
    linear_backward(din, dP + w_theta_, (T*)nullptr, dtheta0_, in, P + w_theta_, N, d_, W_);
  }
  if (P_ > 0) linear_backward(din, dP + w_phi_, (T*)nullptr, phi_, in, P + w_phi_, N, d_, Lv_ * P_);
}

template <typename T>
void RotMixer<T>::begin_incremental(int max_len) {
  if (max_len < 1 || max_len > context_) throw std::invalid_argument("rot mixer: max_len outside 1..context");
  inc_len_ = max_len;
  inc_state_.assign(rot_scan_state_size(W_, Lv_, max_len), T(0));
  inc_work_.assign(rot_scan_step_work_size(variant_, W_, scan_heads(), Lv_), T(0));
  inc_.assign(size_t(2) * W_ + d_ + 1 + size_t(Lv_) * P_, T(0));
}

template <typename T>
void RotMixer<T>::step(T* out, const T* in, int pos, const T* P) {
  if (pos < 0 || pos >= inc_len_) throw std::out_of_range("rot mixer: step position outside begin_incremental's range");
  T* theta0 = inc_.data();
  T* thetaL = theta0 + W_;
  T* u = thetaL + W_;
  T* rstd = u + d_;
  T* phi = rstd + 1;
  if (normed()) {
    linear_forward(u, in, P + w_theta_, (const T*)nullptr, 1, d_, d_);
    rmsnorm_forward(theta0, rstd, u, (const T*)nullptr, 1, d_);
  } else {
    linear_forward(theta0, in, P + w_theta_, (const T*)nullptr, 1, d_, W_);
  }
  const T* phase = P + w_level_;
  if (P_ > 0) {
    linear_forward(phi, in, P + w_phi_, (const T*)nullptr, 1, d_, Lv_ * P_);
    phase = phi;
  }
  rot_scan_step(thetaL, inc_state_.data(), inc_work_.data(), theta0, phase, variant_, pos, inc_len_, W_, scan_heads(),
                Lv_);
  linear_forward(out, thetaL, P + w_out_, (const T*)nullptr, 1, W_, d_);
}

// The forward whose scan copies each level's last rows into the rings as it passes; the output
// projection only for the rows asked for.
template <typename T>
void RotMixer<T>::prefill(T* out, const T* in, const T* P, int out_from) {
  if (B_ != 1 || T_ > inc_len_ || out_from < 0 || out_from >= T_)
    throw std::invalid_argument(
        "rot mixer: prefill needs one bound sequence within begin_incremental's length and out_from in [0, Tn)");
  const T* phase = project_in(in, P);
  rot_scan_forward(thetaL_, trig_, work_, theta0_, phase, variant_, 1, T_, W_, scan_heads(), Lv_, slots_,
                   inc_state_.data(), inc_len_);
  linear_forward(out + size_t(out_from) * d_, thetaL_ + size_t(out_from) * W_, P + w_out_, (const T*)nullptr,
                 T_ - out_from, W_, d_);
}

template <typename T>
size_t RotMixer<T>::stream_bytes(int max_len) const {
  return (rot_scan_state_size(W_, Lv_, max_len) + rot_scan_step_work_size(variant_, W_, scan_heads(), Lv_) +
          size_t(2) * W_ + d_ + 1 + size_t(Lv_) * P_) * sizeof(T);
}

template <typename T>
void RotMixer<T>::begin_streams(int S) {
  streams_ = S;
  st_state_.assign(size_t(S) * inc_state_.size(), T(0));
  st_work_.assign(size_t(S) * inc_work_.size(), T(0));
  st_.assign(size_t(S) * (size_t(2) * W_ + d_ + 1 + size_t(Lv_) * P_), T(0));
}

template <typename T>
void RotMixer<T>::store_stream(int i) {
  if (i < 0 || i >= streams_) throw std::out_of_range("rot mixer: stream outside begin_streams' count");
  rot_scan_store_stream(st_state_.data(), inc_state_.data(), W_, Lv_, inc_len_, streams_, i);
}

template <typename T>
void RotMixer<T>::step_streams(T* out, const T* in, int pos, const T* P, int first, int count) {
  if (pos < 0 || pos >= inc_len_) throw std::out_of_range("rot mixer: step position outside begin_incremental's range");
  const int S = streams_;
  T* theta0 = st_.data();
  T* thetaL = theta0 + size_t(S) * W_;
  T* u = thetaL + size_t(S) * W_;
  T* rstd = u + size_t(S) * d_;
  T* phi = rstd + S;
  const T* phase_all = P_ > 0 ? phi : P + w_level_;  // the rows of all streams, for the scan
  theta0 += size_t(first) * W_;
  thetaL += size_t(first) * W_;
  u += size_t(first) * d_;
  rstd += first;
  phi += size_t(first) * Lv_ * P_;
  in += size_t(first) * d_;
  out += size_t(first) * d_;
  const int rows = count;
  if (normed()) {
    linear_forward(u, in, P + w_theta_, (const T*)nullptr, rows, d_, d_);
    rmsnorm_forward(theta0, rstd, u, (const T*)nullptr, rows, d_);
  } else {
    linear_forward(theta0, in, P + w_theta_, (const T*)nullptr, rows, d_, W_);
  }
  if (P_ > 0) linear_forward(phi, in, P + w_phi_, (const T*)nullptr, rows, d_, Lv_ * P_);
  rot_scan_step_batch(st_.data() + size_t(S) * W_, st_state_.data(), st_work_.data(), st_.data(), phase_all, variant_,
                      pos, inc_len_, W_, scan_heads(), Lv_, S, first, count);
  linear_forward(out, thetaL, P + w_out_, (const T*)nullptr, rows, W_, d_);
}

template class RotMixer<float>;
template class RotMixer<double>;

}  // namespace spectral
