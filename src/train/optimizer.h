// optimizer: the update of the whole parameter arena. train.optimizer = "adamw": AdamW for every
// tensor. "muon": Muon for the hidden matrices (train/muon.h says which) and AdamW for the rest.
// The state is one pair of vectors m, v in the parameter layout, whichever optimizer: AdamW's
// moments, and for Muon's tensors m is Muon's momentum and v stays zero. So checkpoints
// ("optim.m.<name>", "optim.v.<name>") and the processes' start-up broadcast carry either.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "model/params.h"
#include "train/adamw.h"
#include "train/muon.h"

namespace spectral {

class Optimizer {
 public:
  Optimizer(const ParamLayout& layout, const TrainConfig& t, int d_model);
  // One update of every tensor. lr is the schedule's rate (train.lr at its peak), AdamW's; Muon's
  // tensors get the same schedule scaled to train.muon_lr (lr · muon_lr / train.lr). t_step is the
  // 1-based update count (AdamW's bias correction); grad_scale multiplies the gradients first.
  void update(std::vector<float>& params, const std::vector<float>& grads, double lr, int t_step, double grad_scale);
  // The state a resumed run needs (parameter layout).
  std::vector<float>& m() { return adamw_.m; }
  std::vector<float>& v() { return adamw_.v; }
  const std::vector<float>& m() const { return adamw_.m; }
  const std::vector<float>& v() const { return adamw_.v; }
  // Muon's tensors (names and shapes), or "" with AdamW alone.
  std::string muon_tensors() const { return muon_ ? muon_->describe() : std::string(); }

 private:
  std::unique_ptr<Muon> muon_;  // null with AdamW alone
  AdamW adamw_;
  double muon_lr_ratio_;
};

}  // namespace spectral
