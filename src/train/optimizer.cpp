// optimizer: AdamW, or Muon and AdamW side by side.
#include "train/optimizer.h"

namespace spectral {

namespace {

std::vector<bool> complement(const std::vector<bool>& v) {
  std::vector<bool> out(v.size());
  for (size_t i = 0; i < v.size(); i++) out[i] = !v[i];
  return out;
}

}  // namespace

Optimizer::Optimizer(const ParamLayout& layout, const TrainConfig& t, int d_model)
    : muon_(t.optimizer == "muon" ? std::make_unique<Muon>(layout, t, d_model) : nullptr),
      adamw_(layout, t, muon_ ? complement(muon_->owns()) : std::vector<bool>()),
      muon_lr_ratio_(t.muon_lr / t.lr) {}

void Optimizer::update(std::vector<float>& params, const std::vector<float>& grads, double lr, int t_step,
                       double grad_scale) {
  adamw_.update(params, grads, lr, t_step, grad_scale);
  if (muon_) muon_->update(params, grads, adamw_.m, lr * muon_lr_ratio_, grad_scale);
}

}  // namespace spectral
