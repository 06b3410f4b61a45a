// replicas: data parallelism inside one process. The process's share of each batch is split over R
// copies of the model, each stepped forward and backward on its rows by a thread of its own, its
// products and elementwise passes single-threaded (no parallel region per operation, no barrier
// between them); then the copies' gradients are averaged into the first copy, the model the
// optimizer updates. The arithmetic is that of R processes under mpirun, without their messages:
// the same gradient as one model on all the rows, up to the order of float sums.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/model.h"

namespace spectral {

// The replicas a run uses for `rows` sequences per step: `configured` (train.replicas) when > 0,
// else the most of `threads` that divide rows (one per thread).
int replicas_for(int configured, int rows, int threads);

class ReplicaSet {
 public:
  // main is replica 0; R − 1 more are made with its config (their weights: sync_weights()).
  ReplicaSet(Model<float>& main, int replicas);
  int size() const { return int(extra_.size()) + 1; }

  // x, y: rows × T tokens and targets (rows divisible by size()); replica r takes rows r·rows/R ..
  // and its dropout masks are those of the rows first_row + r·rows/R .. of the step's whole batch.
  // Returns the mean loss over the rows. When every replica's loss is finite, main.grads holds the
  // gradient of that mean loss (as main.forward + zero_grad + backward on all the rows would);
  // otherwise the gradients are not computed and the loss is not finite.
  double forward_backward(const int32_t* x, const int32_t* y, int rows, int T, const DropoutDraw& dropout);

  // Copies main's weights into the other replicas (after every change: an update, a load).
  void sync_weights();

 private:
  Model<float>& main_;
  std::vector<std::unique_ptr<Model<float>>> extra_;
};

}  // namespace spectral
