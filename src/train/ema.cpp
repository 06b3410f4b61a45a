// ema: the average's update.
#include "train/ema.h"

#include <cmath>

#include "util/threads.h"

namespace spectral {

void WeightAverage::reset(const std::vector<float>& params, int64_t n) {
  weights = params;
  updates = n;
}

void WeightAverage::update(const std::vector<float>& params) {
  updates++;
  const float w = float((1 - decay_) / (1 - std::pow(decay_, double(updates))));
  float* e = weights.data();
  const float* p = params.data();
  const long n = long(weights.size());
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (long i = 0; i < n; i++) e[i] = (1 - w) * e[i] + w * p[i];  // w = 1 (first update): exactly p
}

}  // namespace spectral
