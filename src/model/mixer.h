// mixer: the interface every sequence mixer layer implements (the mixers themselves are listed in
// model/mixer_registry). A mixer wires projections (ops/linear) around its core op; it owns no
// memory policy: parameters live in the model's parameter arena (the mixer keeps offsets) and
// activations in the model's arena.
#pragma once

#include <memory>
#include <random>
#include <string>

#include "config/config.h"
#include "model/arena.h"
#include "model/params.h"

namespace spectral {

template <typename T>
class Mixer {
 public:
  virtual ~Mixer() = default;
  // Adds this mixer's parameters to layout, each name prefixed with prefix (e.g. "layers.2.mixer.").
  virtual void declare(ParamLayout& layout, const std::string& prefix) = 0;
  // Writes initial values for tensors declared with Init::Custom (params is the arena base).
  virtual void init_custom(T* params, std::mt19937_64& rng) const {}
  // Takes buffers for a batch of B sequences of length Tn (1 <= Tn <= context): from saved what
  // forward keeps for backward, from scratch temporaries used within one forward or one backward
  // call only (scratch memory is shared with other layers). Called twice per shape (counting pass,
  // then handing-out pass): only store the returned pointers.
  virtual void bind(Arena<T>& saved, Arena<T>& scratch, int B, int Tn) = 0;
  // out (B,Tn,d) = mixer(in (B,Tn,d)) for the shape last bound; params is the arena base. out is
  // overwritten. Saves what backward needs in its own bound buffers.
  virtual void forward(T* out, const T* in, const T* params) = 0;
  // din (B,Tn,d) += ∂L/∂in, dparams (arena layout) += ∂L/∂params, given dout and the same in.
  virtual void backward(T* din, T* dparams, const T* dout, const T* in, const T* params) = 0;

  // Training says yes: the weights change after every backward, so a mixer keeps nothing derived
  // from them between forward calls (nor a copy of them to notice a change). Default: no.
  virtual void set_weights_change_every_step(bool yes) {}

  // Incremental generation of one sequence: begin() clears the cache for up to max_len positions
  // (max_len <= context); step() consumes position pos (0, 1, 2, ... in order) with in (d) and writes
  // out (d) equal to row pos of forward() over the whole prefix.
  virtual void begin_incremental(int max_len) = 0;
  virtual void step(T* out, const T* in, int pos, const T* params) = 0;
  // Prefill: the forward over one sequence (bound B = 1, Tn <= max_len, after begin_incremental(max_len))
  // that also leaves the incremental state as step() at positions 0..Tn−1 would have left it, so that
  // the next step() is at position Tn. Writes rows out_from..Tn−1 of out (Tn,d) only (0 <= out_from <
  // Tn; the rows before are left as they were): a caller that needs the last row alone (the model's
  // last layer) skips the output work of the others. Batched over positions: the state comes from the
  // projections and the mixing of all Tn inputs at once, never from stepping through them.
  virtual void prefill(T* out, const T* in, const T* params, int out_from) = 0;

  // Several streams of one length (sampling S continuations of one prompt at once): begin_streams(S)
  // makes room for S states of begin_incremental's max_len (the one-sequence state is kept);
  // store_stream(i) copies the one-sequence state, as prefill() or step() left it, into stream i;
  // step_streams() consumes position pos of streams first..first+count−1: rows first.. of in (S,d)
  // → the same rows of out (S,d), the projections as matrix products over those rows; row i equals
  // step() on stream i alone. Per position, prepare_streams(pos) runs once first; then step_streams
  // may run on disjoint row ranges concurrently.
  virtual void begin_streams(int S) = 0;
  virtual void store_stream(int i) = 0;
  virtual void prepare_streams(int pos, const T* params) {}
  virtual void step_streams(T* out, const T* in, int pos, const T* params, int first, int count) = 0;
  // Bytes begin_streams(S) allocates per stream for max_len positions (what a caller checks against
  // the memory there is).
  virtual size_t stream_bytes(int max_len) const = 0;
};

// Builds the mixer named name (an entry of model/mixer_registry) for a model config; throws
// std::invalid_argument for a name the registry does not hold.
template <typename T>
std::unique_ptr<Mixer<T>> make_mixer(const std::string& name, const ModelConfig& cfg);

}  // namespace spectral
