// adamw: the update loop, gradient norm and schedule.
#include "train/adamw.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spectral {

double learning_rate(const TrainConfig& t, int step, double elapsed_s) {
  if (t.schedule == "time") {
    // warmup by steps, the cosine by the fraction of the wall-time budget spent
    const double warm = (t.warmup_steps > 0 && step < t.warmup_steps) ? double(step + 1) / t.warmup_steps : 1.0;
    const double progress = std::clamp(elapsed_s / t.time_limit_s, 0.0, 1.0);
    return warm * (t.min_lr + 0.5 * (t.lr - t.min_lr) * (1 + std::cos(M_PI * progress)));
  }
  if (t.warmup_steps > 0 && step < t.warmup_steps) return t.lr * (step + 1) / t.warmup_steps;
  const int decay_steps = t.steps - t.warmup_steps;
  if (decay_steps <= 0) return t.lr;
  double progress = double(step - t.warmup_steps) / decay_steps;
  if (progress > 1) progress = 1;
  return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1 + std::cos(M_PI * progress));
}

std::string schedule_warning(const TrainConfig& t) {
  if (t.schedule != "steps" || t.warmup_steps < t.steps) return "";
  return "train.warmup_steps = " + std::to_string(t.warmup_steps) + " >= train.steps = " + std::to_string(t.steps) +
         ": the learning rate rises for the whole run, ends at " +
         std::to_string(int(100.0 * t.steps / t.warmup_steps + 0.5)) +
         "% of train.lr and never decays; lower train.warmup_steps (e.g. to train.steps / 10)";
}

double global_grad_norm(const std::vector<float>& g) {
  double s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
  for (long i = 0; i < (long)g.size(); i++) s += double(g[i]) * g[i];
  return std::sqrt(s);
}

AdamW::AdamW(const ParamLayout& layout, const TrainConfig& t, std::vector<bool> owns)
    : layout_(layout), t_(t), owns_(std::move(owns)) {
  if (owns_.empty()) owns_.assign(layout.specs().size(), true);
  if (owns_.size() != layout.specs().size()) throw std::logic_error("AdamW: owns has the wrong length");
  m.assign(layout.total(), 0.f);
  v.assign(layout.total(), 0.f);
}

void AdamW::update(std::vector<float>& params, const std::vector<float>& grads, double lr, int t_step,
                   double grad_scale) {
  const float b1 = float(t_.beta1), b2 = float(t_.beta2), eps = 1e-8f;
  const float c1 = float(1.0 / (1.0 - std::pow(t_.beta1, t_step)));
  const float c2 = float(1.0 / (1.0 - std::pow(t_.beta2, t_step)));
  const float flr = float(lr), wd = float(lr * t_.weight_decay), gs = float(grad_scale);
  float* p = params.data();
  const float* g = grads.data();
  float* mm = m.data();
  float* vv = v.data();
  // tensor by tensor: weight decay is a property of the tensor (its ParamSpec), so no per-value mask
  // (which would cost as much memory as the weights); the threads share each tensor's loop
#pragma omp parallel
  for (size_t k = 0; k < layout_.specs().size(); k++) {
    if (!owns_[k]) continue;
    const ParamSpec& s = layout_.specs()[k];
    const float wdi = s.decay ? wd : 0.f;
    const long end = long(s.offset + s.size);
#pragma omp for schedule(static) nowait
    for (long i = long(s.offset); i < end; i++) {
      const float gi = g[i] * gs;
      mm[i] = b1 * mm[i] + (1 - b1) * gi;
      vv[i] = b2 * vv[i] + (1 - b2) * gi * gi;
      const float mhat = mm[i] * c1, vhat = vv[i] * c2;
      p[i] -= flr * mhat / (std::sqrt(vhat) + eps) + wdi * p[i];
    }
  }
}

}  // namespace spectral
