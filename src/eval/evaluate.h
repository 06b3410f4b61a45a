// evaluate: losses of a model on held-out tokens — the quick validation estimate used during
// training (fixed windows) and the exhaustive scoring of a whole text used by `spectral eval`.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"
#include "util/distributed.h"

namespace spectral {

// Mean loss over n_batches batches of B fixed windows of length T spread evenly over tokens. With
// several processes, B is each one's share: the windows are those of one process with
// B·comm.size rows, each process scores its block of them, and all get the same mean.
double validation_loss(Model<float>& model, const std::vector<int32_t>& tokens, int B, int T, int n_batches,
                       const Communicator& comm = Communicator());

// Scores every token after the first exactly once: windows of the model's context advance by
// stride (<= context); each window scores only the positions not scored before, so every scored
// character sees at least context − stride characters of history (except near the start).
// per_position gets the loss of predicting tokens[i] for i = 1 .. n−1 (index i−1); correct (if
// given) gets, at the same index, 1 where tokens[i] is the model's top prediction — the first
// largest logit, the character greedy sampling picks — and 0 elsewhere. Returns the sum of the losses.
double score_text(Model<float>& model, const std::vector<int32_t>& tokens, int stride, std::vector<float>* per_position,
                  std::vector<uint8_t>* correct = nullptr);

}  // namespace spectral
