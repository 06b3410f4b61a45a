// ema: an exponential moving average of the weights (train.ema = its decay d; 0 = off). After the
// n-th optimizer update (1-based; skipped steps do not count) the average moves toward the weights
// by (1−d)/(1−dⁿ):
//   ē_n = ē_{n−1} + (θ_n − ē_{n−1})·(1−d)/(1−dⁿ)  =  Σ_k dⁿ⁻ᵏ(1−d)·θ_k / (1−dⁿ)
// the bias-corrected average of the weights after each update, so the first update copies the
// weights and the initial weights carry no weight at all (a plain ē ← d·ē + (1−d)·θ from θ_0 would
// keep dⁿ of the random initialization: 30% after 1,200 steps at d = 0.999).
#pragma once

#include <cstdint>
#include <vector>

namespace spectral {

class WeightAverage {
 public:
  explicit WeightAverage(double decay) : decay_(decay) {}
  bool on() const { return decay_ > 0; }
  // Starts the average at these weights with `updates` updates already counted (0 for a fresh run).
  void reset(const std::vector<float>& params, int64_t updates);
  // After an optimizer update: one more term of the average.
  void update(const std::vector<float>& params);
  std::vector<float> weights;  // the average (parameter layout)
  int64_t updates = 0;         // optimizer updates averaged so far

 private:
  double decay_;
};

}  // namespace spectral
