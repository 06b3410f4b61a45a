// mixer_attention: wiring of the attention / local mixer (projections around ops/attention), and of
// its incremental step (projections around ops/attention's step; the key/value cache lives here).
#include "model/mixer_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "ops/attention.h"
#include "ops/linear.h"

namespace spectral {

template <typename T>
AttentionMixer<T>::AttentionMixer(const ModelConfig& cfg, int window)
    : d_(cfg.d_model), heads_(cfg.n_heads), window_(window) {
  if (heads_ < 1 || d_ % heads_ != 0) throw std::invalid_argument("attention: d_model must be divisible by n_heads");
  if (window_ < 1) throw std::invalid_argument("attention: window must be >= 1");
}

template <typename T>
void AttentionMixer<T>::declare(ParamLayout& L, const std::string& p) {
  const double std_in = 1.0 / std::sqrt(double(d_));
  w_qkv_ = L.add(p + "w_qkv", {3 * d_, d_}, Init::Normal, std_in, true);
  w_out_ = L.add(p + "w_out", {d_, d_}, Init::Normal, std_in, true);
}

template <typename T>
void AttentionMixer<T>::bind(Arena<T>& saved, Arena<T>& scratch, int B, int Tn) {
  B_ = B;
  T_ = Tn;
  const size_t n = (size_t)B * Tn * d_;
  qkv_ = saved.take(3 * n);
  att_ = saved.take(n);
  probs_ = saved.take(attention_saved_size(B, Tn, d_, heads_, window_));
  dqkv_ = scratch.take(3 * n);
  datt_ = scratch.take(n);
  dscores_ = scratch.take(attention_scratch_size(B, Tn, d_, heads_, window_));
}

template <typename T>
void AttentionMixer<T>::forward(T* out, const T* in, const T* P) {
  const int N = B_ * T_;
  linear_forward(qkv_, in, P + w_qkv_, (const T*)nullptr, N, d_, 3 * d_);
  attention_forward(att_, probs_, qkv_, B_, T_, d_, heads_, window_);
  linear_forward(out, att_, P + w_out_, (const T*)nullptr, N, d_, d_);
}

template <typename T>
void AttentionMixer<T>::backward(T* din, T* dP, const T* dout, const T* in, const T* P) {
  const int N = B_ * T_;
  const size_t n = (size_t)N * d_;
  std::memset(datt_, 0, n * sizeof(T));
  std::memset(dqkv_, 0, 3 * n * sizeof(T));
  linear_backward(datt_, dP + w_out_, (T*)nullptr, dout, att_, P + w_out_, N, d_, d_);
  attention_backward(dqkv_, dscores_, datt_, qkv_, probs_, B_, T_, d_, heads_, window_);
  linear_backward(din, dP + w_qkv_, (T*)nullptr, dqkv_, in, P + w_qkv_, N, d_, 3 * d_);
}

template <typename T>
void AttentionMixer<T>::begin_incremental(int max_len) {
  inc_len_ = max_len;
  inc_kv_.assign((size_t)max_len * 2 * d_, T(0));
  inc_tmp_.assign((size_t)4 * d_ + attention_step_scratch_size(max_len, window_, heads_), T(0));
}

template <typename T>
void AttentionMixer<T>::step(T* out, const T* in, int pos, const T* P) {
  if (pos < 0 || pos >= inc_len_) throw std::out_of_range("attention: step position beyond begin_incremental's max_len");
  T* qkv = inc_tmp_.data();  // (3d) = [q | k | v]
  T* att = qkv + 3 * d_;     // (d)
  T* scores = att + d_;      // attention_step's scratch
  linear_forward(qkv, in, P + w_qkv_, (const T*)nullptr, 1, d_, 3 * d_);
  attention_step(att, inc_kv_.data(), scores, qkv, pos, d_, heads_, window_);
  linear_forward(out, att, P + w_out_, (const T*)nullptr, 1, d_, d_);
}

// The step's cache is [k | v] of every position: columns d..3d of the qkv rows. With out_from > 0
// only the projection runs over all rows, and rows out_from.. attend over the cache as the step does.
template <typename T>
void AttentionMixer<T>::prefill(T* out, const T* in, const T* P, int out_from) {
  if (B_ != 1 || T_ > inc_len_ || out_from < 0 || out_from >= T_)
    throw std::invalid_argument(
        "attention: prefill needs one bound sequence within begin_incremental's length and out_from in [0, Tn)");
  if (out_from == 0)
    forward(out, in, P);
  else
    linear_forward(qkv_, in, P + w_qkv_, (const T*)nullptr, T_, d_, 3 * d_);
  for (int t = 0; t < T_; t++)
    std::memcpy(inc_kv_.data() + (size_t)t * 2 * d_, qkv_ + (size_t)t * 3 * d_ + d_, (size_t)2 * d_ * sizeof(T));
  T* att = inc_tmp_.data() + 3 * d_;
  for (int pos = out_from > 0 ? out_from : T_; pos < T_; pos++) {
    attention_step(att, inc_kv_.data(), att + d_, qkv_ + (size_t)pos * 3 * d_, pos, d_, heads_, window_);
    linear_forward(out + (size_t)pos * d_, att, P + w_out_, (const T*)nullptr, 1, d_, d_);
  }
}

template <typename T>
size_t AttentionMixer<T>::stream_bytes(int max_len) const {
  return ((size_t)max_len * 2 * d_ + attention_step_scratch_size(max_len, window_, heads_) + (size_t)4 * d_) * sizeof(T);
}

template <typename T>
void AttentionMixer<T>::begin_streams(int S) {
  streams_ = S;
  st_kv_.assign((size_t)S * inc_kv_.size(), T(0));
  st_scores_.assign((size_t)S * attention_step_scratch_size(inc_len_, window_, heads_), T(0));
  st_tmp_.assign((size_t)S * 4 * d_, T(0));
}

template <typename T>
void AttentionMixer<T>::store_stream(int i) {
  if (i < 0 || i >= streams_) throw std::out_of_range("attention: stream outside begin_streams' count");
  std::copy(inc_kv_.begin(), inc_kv_.end(), st_kv_.begin() + (size_t)i * inc_kv_.size());
}

template <typename T>
void AttentionMixer<T>::step_streams(T* out, const T* in, int pos, const T* P, int first, int count) {
  if (pos < 0 || pos >= inc_len_) throw std::out_of_range("attention: step position beyond begin_incremental's max_len");
  const int S = streams_;
  const size_t ss = attention_step_scratch_size(inc_len_, window_, heads_);
  T* qkv = st_tmp_.data() + (size_t)first * 3 * d_;                // rows of (S,3d)
  T* att = st_tmp_.data() + (size_t)S * 3 * d_ + (size_t)first * d_;  // rows of (S,d)
  linear_forward(qkv, in + (size_t)first * d_, P + w_qkv_, (const T*)nullptr, count, d_, 3 * d_);
  attention_step_batch(att, st_kv_.data() + first * inc_kv_.size(), inc_kv_.size(), st_scores_.data() + first * ss, ss,
                       qkv, pos, d_, heads_, window_, count);
  linear_forward(out + (size_t)first * d_, att, P + w_out_, (const T*)nullptr, count, d_, d_);
}

template class AttentionMixer<float>;
template class AttentionMixer<double>;

}  // namespace spectral
