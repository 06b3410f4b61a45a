// mixer_attention: causal multi-head softmax attention (`attention`) and its sliding-window form
// (`local`), one class with a window: window = context for `attention`, local.window for `local`.
//   qkv = Wqkv·x ;  a = attention(qkv; H heads, scale 1/sqrt(d/H), window) ;  out = Wo·a
// Parameters: w_qkv (3d,d) rows [q | k | v], w_out (d,d).
#pragma once

#include <vector>

#include "model/mixer.h"

namespace spectral {

template <typename T>
class AttentionMixer : public Mixer<T> {
 public:
  // window: query t sees keys t−window < s <= t (window >= context is full causal attention).
  AttentionMixer(const ModelConfig& cfg, int window);
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
  int d_, heads_, window_;
  size_t w_qkv_ = 0, w_out_ = 0;
  int B_ = 0, T_ = 0;
  T *qkv_ = nullptr, *att_ = nullptr, *probs_ = nullptr;      // saved
  T *dqkv_ = nullptr, *datt_ = nullptr, *dscores_ = nullptr;  // scratch
  // incremental: cached [k | v] per position (max_len, 2d); one row of temporaries (q,k,v, attended
  // output, the step's scores over the visible keys)
  std::vector<T> inc_kv_, inc_tmp_;
  int inc_len_ = 0;
  int streams_ = 0;
  std::vector<T> st_kv_, st_scores_, st_tmp_;  // streams: S caches, S scratch, S rows of qkv and output
};

}  // namespace spectral
