// model: the network of model.md — embeddings, blocks of (RMSNorm → mixer, RMSNorm → MLP) with
// residuals, final RMSNorm and the output projection — as wiring over ops/ and mixers. Owns the
// parameter arena (params, grads; the optimizer owns the moments in the same layout) and the
// activation arenas, sized once per (B, T).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "model/arena.h"
#include "model/mixer.h"
#include "model/params.h"

namespace spectral {

// Dropout for one training step: rate p on the embedding output and on every block's mixer and MLP
// outputs (before they join the residual stream), masks drawn from seed (ops/dropout.h). Evaluation
// and generation pass none.
struct DropoutDraw {
  float p = 0;
  uint64_t seed = 0;
  uint64_t first_row = 0;  // the batch's rows are rows first_row.. of the step's whole batch
};
// The draw of training step `step` of a run seeded run_seed at rate p: the same step always gets
// the same masks (so a resumed run repeats them exactly), and a process that trains rows
// first_row.. of the step's batch gets those rows' masks (so several processes draw what one would).
DropoutDraw dropout_for_step(double p, uint64_t run_seed, uint64_t step, uint64_t first_row = 0);

template <typename T>
class Model {
 public:
  Model(const ModelConfig& cfg, int vocab_size);
  Model(const Model&) = delete;
  // The parameter layout of a config without allocating anything proportional to its size: a
  // loader checks a file's tensors against it before trusting the file's config with memory.
  static ParamLayout layout_for(const ModelConfig& cfg, int vocab_size);
  // The bytes bind(B, Tn) would allocate for activations, counted without allocating them: what a
  // caller checks against the memory there is before building a model that would not fit.
  static size_t activation_bytes_for(const ModelConfig& cfg, int vocab_size, int B, int Tn);
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return cfg_; }
  int vocab_size() const { return V_; }
  const ParamLayout& layout() const { return layout_; }
  size_t num_params() const;  // real parameter count (without alignment padding)

  std::vector<T> params;  // the parameter arena (layout())
  std::vector<T> grads;   // same layout; empty until the first zero_grad() or backward() (generation and
                          // evaluation never allocate it)

  // Random initialization from seed (deterministic).
  void init(uint64_t seed);
  // Training: the weights change after every backward, so the mixers keep nothing derived from them
  // between forward calls (evaluation and generation leave this off and may reuse such values).
  void set_weights_change_every_step(bool yes);
  const Mixer<T>& mixer(int layer) const { return *layers_[layer].mixer; }

  // Sizes the activation arenas for B sequences of Tn positions (no-op if already bound so).
  void bind(int B, int Tn);
  int bound_batch() const { return B_; }
  int bound_length() const { return T_; }
  size_t activation_bytes() const { return saved_.bytes() + scratch_.bytes(); }

  // Forward over tokens (B,Tn) (binds if needed). With targets (B,Tn): returns the mean
  // cross-entropy and keeps what backward needs; without: returns 0 and only computes logits.
  // dropout: training only (see DropoutDraw); backward uses the same masks.
  double forward(const int32_t* tokens, const int32_t* targets, int B, int Tn, DropoutDraw dropout = {});
  const T* logits() const { return logits_; }  // (B,Tn,V) of the last forward
  const T* losses() const { return losses_; }  // (B,Tn) per-position losses (forward with targets)

  void zero_grad();
  // Gradients of the last forward's mean loss, accumulated into grads.
  void backward();

  // Incremental generation of one sequence (B = 1): begin clears every layer's cache for up to
  // max_len positions (<= context); step consumes the token at position pos (0, 1, ... in order)
  // and returns the logits (V) for the next character.
  void begin_incremental(int max_len);
  const T* step(int32_t token, int pos);
  // Prefill: begin_incremental(max_len), then the n tokens (1 <= n <= max_len) of positions 0..n−1
  // in one forward pass (batched over positions, as in training) that also leaves every layer's
  // incremental state as n calls of step() would; returns the logits (V) for the last of them,
  // after which step() continues at position n. It keeps nothing for backward: its own arenas hold
  // one layer's activations, shared by the layers in turn (the next forward() rebinds).
  const T* prefill(const int32_t* tokens, int n, int max_len);

  // Several streams at once (S continuations of one prompt): after begin_incremental or prefill,
  // begin_streams(S) makes room for S streams; store_stream(i) copies the one-sequence state (as
  // prefill or step left it) into stream i; step_streams consumes tokens (S), one per stream, all at
  // position pos, through matrix products over the S rows, and returns the logits (S,V): row i
  // equals step() on stream i alone. The one-sequence state stays usable (a stream whose window is
  // full is rebuilt by prefill, then stored again).
  void begin_streams(int S);
  void store_stream(int i);
  const T* step_streams(const int32_t* tokens, int pos);
  // Bytes begin_streams allocates per stream for max_len positions, counted without allocating.
  size_t stream_bytes(int max_len) const;

 private:
  struct Layer {
    std::unique_ptr<Mixer<T>> mixer;
    size_t ln1_w, ln2_w, w1, b1, w2, b2;
    T *resid_in, *rstd1, *resid_mid, *rstd2, *h;  // saved activations
    // kept from forward when model.keep_activations_mib allows, else null (backward recomputes them)
    T *ln1 = nullptr, *ln2 = nullptr, *act = nullptr;
  };
  // The MLP's activation (model.activation): act(h) into out, and din += act'(h) ⊙ dout.
  void activation_forward(T* out, const T* h, size_t n) const;
  void activation_backward(T* din, const T* dout, const T* h, size_t n) const;
  ModelConfig cfg_;
  int V_, d_, hidden_;
  bool relu2_;  // model.activation == "relu2" (else gelu)
  ParamLayout layout_;
  size_t wte_, wpe_ = 0, lnf_w_, w_lm_ = 0;
  std::vector<Layer> layers_;
  Arena<T> saved_, scratch_;
  int B_ = 0, T_ = 0;
  T *resid_out_ = nullptr, *lnf_ = nullptr, *rstdf_ = nullptr, *logits_ = nullptr, *probs_ = nullptr,
    *losses_ = nullptr, *tmp_ = nullptr, *ln_ = nullptr, *rstd_tmp_ = nullptr;
  T *dresid_ = nullptr, *dln_ = nullptr, *da_ = nullptr, *dh_ = nullptr, *dlogits_ = nullptr;
  std::vector<int32_t> tokens_, targets_;
  bool have_targets_ = false;
  DropoutDraw drop_;  // of the last forward
  uint64_t drop_seed(int site) const;
  // index of this batch's first element in the step's whole batch (each dropout site is (B,T,d))
  size_t drop_first() const { return size_t(drop_.first_row) * T_ * d_; }
  std::vector<T> inc_;  // incremental scratch: residual, norm, MLP hidden, logits
  int streams_ = 0;
  std::vector<T> st_;  // streams: inc_'s rows, S of each
  void step_rows(const int32_t* tokens, int pos, int lo, int n);  // streams lo..lo+n−1 of step_streams
  // prefill: the residual stream, norm, rstd, branch output and MLP rows of a chunk (pre_act_); the
  // mixers' buffers (pre_saved_, pre_scratch_), one layer's worth that every layer reuses in turn
  Arena<T> pre_act_, pre_saved_, pre_scratch_;
  int pre_n_ = 0;  // the length they are bound to (0: not bound, or a forward() rebound the mixers)
  T *pre_x_ = nullptr, *pre_ln_ = nullptr, *pre_rstd_ = nullptr, *pre_out_ = nullptr, *pre_h_ = nullptr,
    *pre_a_ = nullptr;
  void bind_prefill(int n);
  void take_buffers();
  const T* lm_weight() const;
  struct LayoutOnly {};
  Model(const ModelConfig& cfg, int vocab_size, LayoutOnly);  // everything but the arenas
};

}  // namespace spectral
