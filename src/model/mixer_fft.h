// mixer_fft: the causal spectral mixer of model.md.
//   u = Win·x ;  y_c[t] = Σ_{s≤t} k_c[s]·u_c[t−s] + D_c·u_c[t] ;  out = Wo·y
//   (gate: out = Wo·((Wg·x) ⊙ y))
// Parameters: w_in (d,d), kernel (d,context), d_skip (d), [w_gate (d,d)], w_out (d,d).
#pragma once

#include "model/mixer.h"
#include "ops/fft_online.h"
#include "util/zeroed_buffer.h"

namespace spectral {

template <typename T>
class FftMixer : public Mixer<T> {
 public:
  explicit FftMixer(const ModelConfig& cfg);
  void declare(ParamLayout& layout, const std::string& prefix) override;
  void init_custom(T* params, std::mt19937_64& rng) const override;
  void bind(Arena<T>& saved, Arena<T>& scratch, int B, int Tn) override;
  void forward(T* out, const T* in, const T* params) override;
  void backward(T* din, T* dparams, const T* dout, const T* in, const T* params) override;
  void begin_incremental(int max_len) override;
  void set_weights_change_every_step(bool yes) override {
    weights_move_ = yes;
    if (yes) {
      spectra_version_ = online_version_ = 0;
      taps_hashed_ = false;
    }
  }
  // Whether a hash of the taps is kept to notice that they changed (not while training).
  bool remembers_taps() const { return taps_hashed_; }
  // Levels of the online convolution whose spectra are made (tests: reused while the taps stay).
  int online_levels_made() const { return online_taps_.levels_made(); }
  void step(T* out, const T* in, int pos, const T* params) override;
  void prefill(T* out, const T* in, const T* params, int out_from) override;
  void begin_streams(int S) override;
  void store_stream(int i) override;
  void prepare_streams(int pos, const T* params) override;
  void step_streams(T* out, const T* in, int pos, const T* params, int first, int count) override;
  size_t stream_bytes(int max_len) const override;

 private:
  int d_, context_;
  FftConfig fc_;
  size_t w_in_ = 0, kernel_ = 0, d_skip_ = 0, w_gate_ = 0, w_out_ = 0;
  int B_ = 0, T_ = 0;
  T *u_ = nullptr, *y_ = nullptr, *g_ = nullptr, *spectra_ = nullptr;  // saved
  T *dh_ = nullptr, *dy_ = nullptr, *du_ = nullptr;                                      // scratch
  // Incremental generation: online convolution (ops/fft_online) with base block fc_.step_block, or,
  // with step_block = 0, fft_conv_step's direct sum over the whole history (the reference).
  bool online() const { return fc_.step_block > 0; }
  int inc_len_ = 0;                 // begin_incremental's max_len
  // cached u (max_len,d) and, online, the pending outputs (max_len,d), what earlier blocks add to each:
  // zero without being written, so that the rows a sequence never reaches cost nothing
  ZeroedBuffer<T> inc_u_, inc_pend_;
  bool pend_clean_ = true;  // inc_pend_ is all zeros (nothing added since it was made or cleared)
  void clear_pending();     // makes it so (no work when it already is)
  std::vector<T> inc_tmp_;  // one row of temporaries
  FftOnlineTaps<T> online_taps_;    // online: the taps and per-level spectra every stream shares
  // online: the taps version online_taps_ was made from (0: none), so that a new sequence with
  // unchanged weights (a rebuild past the context, another stream's prefill) reuses the levels'
  // spectra instead of transforming them again
  uint64_t online_version_ = 0;
  bool online_begun_ = false;  // a sequence began (step at position 0 or prefill) since begin_incremental
  std::vector<T> inc_kt_;           // direct: the kernel taps transposed (max_len,d): rows 0..inc_kt_rows_−1 made
  int inc_kt_rows_ = 0;
  int streams_ = 0;
  std::vector<T> st_u_, st_pend_, st_tmp_;  // streams: S cached u and pending outputs (max_len,d), S rows of temporaries
  // forward(); keep_spectra = false: the spectra are not kept for a backward (prefill)
  void forward_keeping(T* out, const T* in, const T* params, bool keep_spectra);
  // step() after its input projection: u (d) in the first row of inc_tmp_, in the step's input.
  void step_from_u(T* out, const T* in, int pos, const T* params);
  void make_step_taps(const T* params, int rows);  // direct: at least rows rows (grown by doubling)
  void begin_online_taps(const T* params);         // online: new taps (a new sequence may come with new weights)
  // A hash of the kernel taps (d, context) as last seen, and their version, which changes whenever
  // they do: the forward's spectra (valid until the next bind) and the online convolution's levels
  // each remember the version they were made from. While training (weights_move_) nothing is kept
  // and every call is a new version.
  uint64_t taps_hash_ = 0;
  bool taps_hashed_ = false;
  uint64_t taps_version_ = 0;
  uint64_t spectra_version_ = 0;  // of spectra_ (0: none since the last bind)
  bool weights_move_ = false;  // training: the kernel's spectra are never reused, its taps not copied
  uint64_t current_taps_version(const T* k);  // one pass over d·context values
  bool kernel_spectra_current(const T* k);
};

}  // namespace spectral
