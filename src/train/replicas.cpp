// replicas: one thread per model copy, the gradients averaged into the first (see the header).
#include "train/replicas.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <omp.h>

namespace spectral {

int replicas_for(int configured, int rows, int threads) {
  if (configured > 0) return configured;
  int r = std::max(1, std::min(threads, rows));
  while (rows % r != 0) r--;
  return r;
}

ReplicaSet::ReplicaSet(Model<float>& main, int replicas) : main_(main) {
  if (replicas < 1) throw std::invalid_argument("replicas: need at least one, got " + std::to_string(replicas));
  for (int r = 1; r < replicas; r++) {
    extra_.push_back(std::make_unique<Model<float>>(main.config(), main.vocab_size()));
    extra_.back()->set_weights_change_every_step(true);
  }
  sync_weights();
}

void ReplicaSet::sync_weights() {
  for (auto& m : extra_) m->params = main_.params;
}

double ReplicaSet::forward_backward(const int32_t* x, const int32_t* y, int rows, int T, const DropoutDraw& dropout) {
  const int R = size();
  if (rows % R != 0)
    throw std::invalid_argument("replicas: " + std::to_string(rows) + " rows do not divide over " + std::to_string(R) +
                                " replicas");
  const int share = rows / R;
  std::vector<double> loss(R, NAN);
  // Inside this region every operation of a replica runs on its thread alone: gemm and the
  // elementwise passes see that they are in a parallel region and do not open their own.
#pragma omp parallel for schedule(static, 1) num_threads(R)
  for (int r = 0; r < R; r++) {
    Model<float>& m = r == 0 ? main_ : *extra_[r - 1];
    DropoutDraw d = dropout;
    d.first_row += uint64_t(r) * share;
    const size_t at = size_t(r) * share * T;
    loss[r] = m.forward(x + at, y + at, share, T, d);
    if (std::isfinite(loss[r])) {
      m.zero_grad();
      m.backward();
    }
  }
  double mean = 0;
  for (double l : loss) mean += l;
  mean /= R;
  if (!std::isfinite(mean)) return mean;
  // main's gradient becomes the mean of the replicas' (each the gradient of its own rows' mean loss)
  float* g = main_.grads.data();
  const size_t n = main_.grads.size();
  const float inv = 1.0f / float(R);
#pragma omp parallel for schedule(static) if (n >= (size_t(1) << 16))
  for (size_t i = 0; i < n; i++) {
    float s = g[i];
    for (const auto& m : extra_) s += m->grads[i];
    g[i] = s * inv;
  }
  return mean;
}

}  // namespace spectral
