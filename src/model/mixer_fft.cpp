// mixer_fft: wiring of the fft mixer (projections around ops/fft_conv), and of its incremental step
// (projections around ops/fft_online's step, or fft_conv's direct step with model.fft.step_block = 0;
// the cache of u and the pending outputs live here).
#include "model/mixer_fft.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "ops/elementwise.h"
#include "ops/fft_conv.h"
#include "ops/fft_online.h"
#include "ops/linear.h"
#include "util/hash.h"

namespace spectral {

template <typename T>
FftMixer<T>::FftMixer(const ModelConfig& cfg) : d_(cfg.d_model), context_(cfg.context), fc_(cfg.fft) {}

template <typename T>
void FftMixer<T>::declare(ParamLayout& L, const std::string& p) {
  const double std_in = 1.0 / std::sqrt(double(d_));
  w_in_ = L.add(p + "w_in", {d_, d_}, Init::Normal, std_in, true);
  kernel_ = L.add(p + "kernel", {d_, context_}, Init::Custom, 0, false);
  d_skip_ = L.add(p + "d_skip", {d_}, Init::Ones, 0, false);
  if (fc_.gate) w_gate_ = L.add(p + "w_gate", {d_, d_}, Init::Normal, std_in, true);
  w_out_ = L.add(p + "w_out", {d_, d_}, Init::Normal, std_in, true);
}

// Kernel taps: Gaussian noise under a per-channel exponential decay, rates spread log-uniformly
// between decay_min and decay_max, so that channels start at different time scales.
template <typename T>
void FftMixer<T>::init_custom(T* params, std::mt19937_64& rng) const {
  std::normal_distribution<double> normal(0.0, 1.0);
  T* k = params + kernel_;
  for (int c = 0; c < d_; c++) {
    const double f = d_ > 1 ? double(c) / (d_ - 1) : 0.0;
    const double rate = fc_.decay_min * std::pow(fc_.decay_max / fc_.decay_min, f);
    for (int s = 0; s < context_; s++) k[(size_t)c * context_ + s] = T(fc_.kernel_std * normal(rng) * std::exp(-rate * s));
  }
}

template <typename T>
void FftMixer<T>::bind(Arena<T>& saved, Arena<T>& scratch, int B, int Tn) {
  B_ = B;
  T_ = Tn;
  const size_t n = (size_t)B * Tn * d_;
  u_ = saved.take(n);
  y_ = saved.take(n);
  spectra_ = saved.take(fft_conv_saved_size(B, Tn, d_));
  if (fc_.gate) g_ = saved.take(n);  // h = g ⊙ y is recomputed in backward, not kept
  dh_ = scratch.take(n);
  dy_ = scratch.take(n);
  du_ = scratch.take(n);
  spectra_version_ = 0;
}

// The version of these taps: the one remembered if their hash is the one remembered, else a new one
// (whose hash is remembered, unless the weights move every step).
template <typename T>
uint64_t FftMixer<T>::current_taps_version(const T* k) {
  if (weights_move_) return ++taps_version_;
  const uint64_t h = hash_bytes(k, (size_t)d_ * context_ * sizeof(T));
  if (taps_version_ != 0 && taps_hashed_ && h == taps_hash_) return taps_version_;
  taps_hash_ = h;
  taps_hashed_ = true;
  return ++taps_version_;
}

// Whether spectra_ already holds the transform of these taps (the forward that follows computes
// them if not).
template <typename T>
bool FftMixer<T>::kernel_spectra_current(const T* k) {
  const uint64_t v = current_taps_version(k);
  const bool same = !weights_move_ && spectra_version_ == v;
  spectra_version_ = v;
  return same;
}

template <typename T>
void FftMixer<T>::forward(T* out, const T* in, const T* P) {
  forward_keeping(out, in, P, true);
}

template <typename T>
void FftMixer<T>::forward_keeping(T* out, const T* in, const T* P, bool keep_spectra) {
  const int N = B_ * T_;
  linear_forward(u_, in, P + w_in_, (const T*)nullptr, N, d_, d_);
  if (keep_spectra) {
    const bool ready = kernel_spectra_current(P + kernel_);
    fft_conv_forward(y_, spectra_, u_, P + kernel_, context_, P + d_skip_, B_, T_, d_, ready);
  } else {
    spectra_version_ = 0;  // spectra_ is not written
    fft_conv_forward(y_, (T*)nullptr, u_, P + kernel_, context_, P + d_skip_, B_, T_, d_);
  }
  const T* mixed = y_;
  if (fc_.gate) {
    linear_forward(g_, in, P + w_gate_, (const T*)nullptr, N, d_, d_);
    mul_forward(dh_, g_, y_, (size_t)N * d_);  // h, in scratch until the output product
    mixed = dh_;
  }
  linear_forward(out, mixed, P + w_out_, (const T*)nullptr, N, d_, d_);
}

template <typename T>
void FftMixer<T>::backward(T* din, T* dP, const T* dout, const T* in, const T* P) {
  const int N = B_ * T_;
  const size_t n = (size_t)N * d_;
  std::memset(dy_, 0, n * sizeof(T));
  std::memset(du_, 0, n * sizeof(T));
  if (fc_.gate) {
    mul_forward(du_, g_, y_, n);  // h again, in du_ until it is needed as dg's buffer
    std::memset(dh_, 0, n * sizeof(T));
    linear_backward(dh_, dP + w_out_, (T*)nullptr, dout, du_, P + w_out_, N, d_, d_);
    std::memset(du_, 0, n * sizeof(T));
    // h = g ⊙ y: dy += dh ⊙ g, and dg (reusing du_ as its buffer) = dh ⊙ y
    mul_backward(du_, dy_, dh_, g_, y_, n);
    linear_backward(din, dP + w_gate_, (T*)nullptr, du_, in, P + w_gate_, N, d_, d_);
    std::memset(du_, 0, n * sizeof(T));
  } else {
    linear_backward(dy_, dP + w_out_, (T*)nullptr, dout, y_, P + w_out_, N, d_, d_);
  }
  fft_conv_backward(du_, dP + kernel_, dP + d_skip_, dy_, u_, P + kernel_, context_, P + d_skip_, spectra_, B_, T_, d_);
  linear_backward(din, dP + w_in_, (T*)nullptr, du_, in, P + w_in_, N, d_, d_);
}

// The buffers of one length are kept from sequence to sequence (the rows a sequence wrote are paged
// in already); a new length makes them afresh.
template <typename T>
void FftMixer<T>::begin_incremental(int max_len) {
  inc_len_ = max_len;
  const size_t n = (size_t)max_len * d_;
  if (inc_u_.size() != n) inc_u_ = ZeroedBuffer<T>(n);
  inc_tmp_.assign((size_t)3 * d_, T(0));
  if (online()) {
    if (inc_pend_.size() != n) {
      inc_pend_ = ZeroedBuffer<T>(n);
      pend_clean_ = true;
    }
    clear_pending();
    std::vector<T>().swap(inc_kt_);
  } else {
    inc_kt_.assign(n, T(0));
    inc_pend_ = ZeroedBuffer<T>();
  }
  if (online_taps_.max_len != max_len || online_taps_.L0 != fc_.step_block) {
    online_taps_ = FftOnlineTaps<T>();
    online_version_ = 0;
  }
  online_begun_ = false;
  inc_kt_rows_ = 0;
}

template <typename T>
void FftMixer<T>::clear_pending() {
  if (!pend_clean_) inc_pend_.fill_zero();
  pend_clean_ = true;
}

template <typename T>
void FftMixer<T>::make_step_taps(const T* P, int rows) {
  if (rows <= inc_kt_rows_) return;
  const int max_len = int(inc_kt_.size() / d_);
  const int to = std::min(max_len, std::max({rows, 2 * inc_kt_rows_, 256}));
  fft_conv_step_taps(inc_kt_.data(), P + kernel_, context_, inc_kt_rows_, to, d_);
  inc_kt_rows_ = to;
}

// Taps for a new sequence: those of the last sequence (with every level made for it) while the
// kernel is unchanged, else made afresh from the kernel (one comparison of d·context values).
template <typename T>
void FftMixer<T>::begin_online_taps(const T* P) {
  online_begun_ = true;
  const T* k = P + kernel_;
  const uint64_t v = current_taps_version(k);
  if (!weights_move_ && online_version_ == v && online_taps_.max_len == inc_len_ && online_taps_.L0 == fc_.step_block)
    return;
  fft_online_begin(online_taps_, k, context_, d_, inc_len_, fc_.step_block);
  online_version_ = v;
}

template <typename T>
void FftMixer<T>::step(T* out, const T* in, int pos, const T* P) {
  if (pos < 0 || pos >= inc_len_) throw std::out_of_range("fft mixer: step position beyond begin_incremental's max_len");
  linear_forward(inc_tmp_.data(), in, P + w_in_, (const T*)nullptr, 1, d_, d_);
  step_from_u(out, in, pos, P);
}

template <typename T>
void FftMixer<T>::step_from_u(T* out, const T* in, int pos, const T* P) {
  T* u = inc_tmp_.data();
  T* y = u + d_;
  T* g = y + d_;
  if (online()) {
    if (pos == 0) {  // a new sequence: nothing pending, taps of the weights as they are now
      clear_pending();
      begin_online_taps(P);
    }
    pend_clean_ = false;
    if (!online_begun_) throw std::logic_error("fft mixer: steps start at position 0 or after a prefill");
    fft_online_make_levels(online_taps_, P + kernel_, context_,
                           fft_online_levels_for_step(pos, inc_len_, fc_.step_block));
    fft_online_step(y, inc_u_.data(), inc_pend_.data(), u, online_taps_, P + d_skip_, pos, d_);
  } else {
    if (pos == 0) inc_kt_rows_ = 0;  // a new sequence (the weights may have changed since the last)
    make_step_taps(P, pos + 1);
    fft_conv_step(y, inc_u_.data(), u, inc_kt_.data(), P + d_skip_, pos, d_);
  }
  if (fc_.gate) {
    linear_forward(g, in, P + w_gate_, (const T*)nullptr, 1, d_, d_);
    mul_forward(y, g, y, (size_t)d_);
  }
  linear_forward(out, y, P + w_out_, (const T*)nullptr, 1, d_, d_);
}

// The step's cache is u of every position: the forward's u rows (with out_from > 0 the projection
// alone, straight into the cache). The online convolution's pending outputs are added from those rows
// (ops/fft_online's prefill) for the first m positions, m = out_from or Tn; rows m.. then go through
// the step, so the convolution over all positions runs only when every output row is asked for.
template <typename T>
void FftMixer<T>::prefill(T* out, const T* in, const T* P, int out_from) {
  if (B_ != 1 || T_ > inc_len_ || out_from < 0 || out_from >= T_)
    throw std::invalid_argument(
        "fft mixer: prefill needs one bound sequence within begin_incremental's length and out_from in [0, Tn)");
  const int m = out_from > 0 ? out_from : T_;
  if (out_from == 0) {
    forward_keeping(out, in, P, false);  // nothing kept for a backward
    std::memcpy(inc_u_.data(), u_, (size_t)T_ * d_ * sizeof(T));
  } else {
    linear_forward(inc_u_.data(), in, P + w_in_, (const T*)nullptr, T_, d_, d_);
  }
  if (online()) {
    clear_pending();
    pend_clean_ = false;
    begin_online_taps(P);
    fft_online_make_levels(online_taps_, P + kernel_, context_, fft_online_levels_for_prefill(m, inc_len_, fc_.step_block));
    fft_online_prefill(inc_pend_.data(), inc_u_.data(), online_taps_, m, d_);
  } else {
    inc_kt_rows_ = 0;
    make_step_taps(P, T_ + 1);
  }
  for (int pos = m; pos < T_; pos++) {
    std::memcpy(inc_tmp_.data(), inc_u_.data() + (size_t)pos * d_, (size_t)d_ * sizeof(T));
    step_from_u(out + (size_t)pos * d_, in + (size_t)pos * d_, pos, P);
  }
}

template <typename T>
size_t FftMixer<T>::stream_bytes(int max_len) const {
  return ((size_t)max_len * d_ * (online() ? 2 : 1) + (size_t)3 * d_) * sizeof(T);
}

template <typename T>
void FftMixer<T>::begin_streams(int S) {
  streams_ = S;
  st_u_.assign((size_t)S * inc_u_.size(), T(0));
  st_pend_.assign((size_t)S * inc_pend_.size(), T(0));
  st_tmp_.assign((size_t)S * 3 * d_, T(0));
}

template <typename T>
void FftMixer<T>::store_stream(int i) {
  if (i < 0 || i >= streams_) throw std::out_of_range("fft mixer: stream outside begin_streams' count");
  std::copy(inc_u_.begin(), inc_u_.end(), st_u_.begin() + (size_t)i * inc_u_.size());
  std::copy(inc_pend_.begin(), inc_pend_.end(), st_pend_.begin() + (size_t)i * inc_pend_.size());
}

// The streams share the taps (the transposed taps grown as in step(), or the online convolution's
// levels), made once per position by prepare_streams before the row groups run; each stream has its
// own cache of u (and pending outputs).
template <typename T>
void FftMixer<T>::prepare_streams(int pos, const T* P) {
  if (pos < 0 || pos >= inc_len_) throw std::out_of_range("fft mixer: step position beyond begin_incremental's max_len");
  if (online()) {
    if (pos == 0) begin_online_taps(P);
    if (!online_begun_) throw std::logic_error("fft mixer: steps start at position 0 or after a prefill");
    fft_online_make_levels(online_taps_, P + kernel_, context_,
                           fft_online_levels_for_step(pos, inc_len_, fc_.step_block));
    return;
  }
  if (pos == 0) inc_kt_rows_ = 0;
  make_step_taps(P, pos + 1);
}

template <typename T>
void FftMixer<T>::step_streams(T* out, const T* in, int pos, const T* P, int first, int count) {
  const int S = streams_;
  const size_t at = (size_t)first * d_;
  T* u = st_tmp_.data() + at;
  T* y = st_tmp_.data() + (size_t)S * d_ + at;
  T* g = st_tmp_.data() + (size_t)2 * S * d_ + at;
  in += at;
  out += at;
  linear_forward(u, in, P + w_in_, (const T*)nullptr, count, d_, d_);
  if (online()) {
    const size_t cache = inc_u_.size();
    for (int i = first; i < first + count; i++)
      fft_online_step(y + (size_t)(i - first) * d_, st_u_.data() + (size_t)i * cache, st_pend_.data() + (size_t)i * cache,
                      u + (size_t)(i - first) * d_, online_taps_, P + d_skip_, pos, d_);
  } else {
    fft_conv_step_batch(y, st_u_.data() + first * inc_u_.size(), inc_u_.size(), u, inc_kt_.data(), P + d_skip_, pos,
                        d_, count);
  }
  if (fc_.gate) {
    linear_forward(g, in, P + w_gate_, (const T*)nullptr, count, d_, d_);
    mul_forward(y, g, y, (size_t)count * d_);
  }
  linear_forward(out, y, P + w_out_, (const T*)nullptr, count, d_, d_);
}

template class FftMixer<float>;
template class FftMixer<double>;

}  // namespace spectral
