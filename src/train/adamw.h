// adamw: AdamW with decoupled weight decay over the flat parameter arena (one loop; the decay flag
// comes from each tensor's ParamSpec), global-norm gradient clipping, and the learning-rate
// schedule (linear warmup, then cosine to min_lr over the steps or over the wall-time budget).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "model/params.h"

namespace spectral {

// lr at step (0-based): linear warmup over warmup_steps to lr, then cosine to min_lr at steps.
// With train.schedule = "time" the cosine runs over the wall-time budget instead: its progress is
// elapsed_s / time_limit_s (the warmup still counts steps and scales the rate).
double learning_rate(const TrainConfig& t, int step, double elapsed_s = 0);
// A warning when the schedule cannot do what it says (warmup_steps >= steps: the rate never reaches
// lr and the decay never runs), else "".
std::string schedule_warning(const TrainConfig& t);

// sqrt(Σ g²) over the arena, accumulated in double.
double global_grad_norm(const std::vector<float>& grads);

class AdamW {
 public:
  // owns[i]: whether AdamW updates tensor i of the layout (in layout order); empty = every tensor.
  // The others are left alone (another optimizer updates them: train/optimizer.h).
  AdamW(const ParamLayout& layout, const TrainConfig& t, std::vector<bool> owns = {});
  // One update; t_step is the 1-based update count (bias correction). grad_scale multiplies the
  // gradients first (the clipping factor).
  void update(std::vector<float>& params, const std::vector<float>& grads, double lr, int t_step, double grad_scale);
  std::vector<float> m, v;  // moments, same layout as the parameters

 private:
  const ParamLayout& layout_;
  TrainConfig t_;
  std::vector<bool> owns_;
};

}  // namespace spectral
