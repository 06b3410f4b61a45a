// sampler: picks the next character from logits (greedy, temperature, top-k, top-p) and runs
// generation with the model's incremental state (or, for comparison, a full forward per token).
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "model/model.h"

namespace spectral {

struct SamplingOptions {
  double temperature = 1.0;  // 0 = greedy (argmax)
  int top_k = 0;             // 0 = off
  double top_p = 1.0;        // nucleus mass in (0, 1]; 1 = off
  uint64_t seed = 1337;
};

// Draws one id from logits (V). Ties in greedy mode go to the lowest id.
int32_t pick_token(const float* logits, int V, const SamplingOptions& opt, std::mt19937_64& rng,
                   std::vector<float>& scratch);

struct GenerationOptions {
  bool incremental = true;  // false: recompute the whole window for every new character
  // Incremental mode: the prompt (and every rebuild of the window) goes through one forward pass
  // that leaves the state ready (Model::prefill); false feeds it through step() one character at a
  // time (the reference the prefill is tested against).
  bool prefill = true;
};

// Feeds prompt (non-empty) and generates n_new ids, calling on_token for each as it is drawn.
// Incremental mode: per-layer caches make each character cost work independent of the history; when
// the window is full (context positions), the cache is rebuilt from the last context/2 characters
// and generation continues. The prompt's last min(length, context) characters and each rebuild go
// through one forward pass (GenerationOptions::prefill). Full mode: every character is a forward pass over the last
// min(length, context) characters.
std::vector<int32_t> generate(Model<float>& model, const std::vector<int32_t>& prompt, int n_new,
                              const SamplingOptions& sopt, const GenerationOptions& gopt,
                              const std::function<void(int32_t)>& on_token = {});

// S independent continuations of one prompt: stream i draws with seed sopt.seed + i and produces
// what generate() would with that seed. Incremental mode prefills the prompt once, copies the state
// into every stream and steps all streams together (Model::step_streams: matrix products over S
// rows); a stream whose window fills is rebuilt on its own (prefill, then stored back). Full mode
// and S = 1 run generate() per stream. on_token(i, id) is called as stream i draws id.
std::vector<std::vector<int32_t>> generate_streams(Model<float>& model, const std::vector<int32_t>& prompt, int n_new,
                                                   int S, const SamplingOptions& sopt, const GenerationOptions& gopt,
                                                   const std::function<void(int, int32_t)>& on_token = {});

}  // namespace spectral
