// muon: the eligibility rule, the Newton–Schulz iteration and the update.
#include "train/muon.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "ops/gemm.h"

namespace spectral {

bool muon_eligible(const ParamSpec& s, int d_model) {
  return s.shape.size() == 2 && s.name.rfind("layers.", 0) == 0 && s.decay &&
         (s.shape[0] == d_model || s.shape[1] == d_model);
}

void newton_schulz5(float* X, int rows, int cols, std::vector<float>& work) {
  constexpr float a = 3.4445f, b = -4.7750f, c = 2.0315f;
  const bool tall = rows > cols;
  const int s = tall ? cols : rows;  // side of the Gram matrix
  const size_t n = size_t(rows) * cols, ss = size_t(s) * s;
  work.resize(2 * ss + n);
  float* A = work.data();
  float* B = A + ss;
  float* Y = B + ss;
  double sq = 0;
  for (size_t i = 0; i < n; i++) sq += double(X[i]) * X[i];
  const float inv = float(1.0 / (std::sqrt(sq) + 1e-7));
  for (size_t i = 0; i < n; i++) X[i] *= inv;
  for (int it = 0; it < 5; it++) {
    if (tall)
      gemm(true, false, s, s, rows, 1.f, X, cols, X, cols, 0.f, A, s);  // A = XᵀX
    else
      gemm(false, true, s, s, cols, 1.f, X, cols, X, cols, 0.f, A, s);  // A = X·Xᵀ
    gemm(false, false, s, s, s, c, A, s, A, s, 0.f, B, s);              // B = c·A·A ...
    for (size_t k = 0; k < ss; k++) B[k] += b * A[k];                   // ... + b·A
    for (size_t i = 0; i < n; i++) Y[i] = a * X[i];
    if (tall)
      gemm(false, false, rows, cols, cols, 1.f, X, cols, B, s, 1.f, Y, cols);  // Y = a·X + X·B
    else
      gemm(false, false, rows, cols, rows, 1.f, B, s, X, cols, 1.f, Y, cols);  // Y = a·X + B·X
    std::copy(Y, Y + n, X);
  }
}

Muon::Muon(const ParamLayout& layout, const TrainConfig& t, int d_model)
    : layout_(layout), momentum_(t.muon_momentum), weight_decay_(t.muon_weight_decay) {
  for (const auto& s : layout.specs()) owns_.push_back(muon_eligible(s, d_model));
  for (size_t k = 0; k < owns_.size(); k++)
    if (owns_[k]) order_.push_back(k);
  std::stable_sort(order_.begin(), order_.end(),
                   [&](size_t a, size_t b) { return layout.specs()[a].size > layout.specs()[b].size; });
}

std::string Muon::describe() const {
  std::string out;
  for (size_t k = 0; k < owns_.size(); k++) {
    if (!owns_[k]) continue;
    const ParamSpec& s = layout_.specs()[k];
    out += (out.empty() ? "" : ", ") + s.name + " " + std::to_string(s.shape[0]) + "x" + std::to_string(s.shape[1]);
  }
  return out.empty() ? "none" : out;
}

// One parallel region per step: the threads take whole matrices (largest first), each with
// single-threaded products (gemm runs on one thread inside a parallel region). Each matrix's
// arithmetic is then the same whatever the thread count or the order the threads take them in,
// and a step pays for one fork/join instead of one per product (on a busy machine each can wait a
// scheduler time slice).
void Muon::update(std::vector<float>& params, const std::vector<float>& grads, std::vector<float>& m, double lr,
                  double grad_scale) {
  const float beta = float(momentum_), gs = float(grad_scale);
  const float decay = float(1.0 - lr * weight_decay_);
  const long count = long(order_.size());
#pragma omp parallel
  {
    std::vector<float> u, work;
#pragma omp for schedule(dynamic, 1)
    for (long j = 0; j < count; j++) {
      const ParamSpec& s = layout_.specs()[order_[j]];
      const int rows = s.shape[0], cols = s.shape[1];
      const float step = float(lr * std::sqrt(std::max(1.0, double(rows) / cols)));
      u.resize(s.size);
      float* p = params.data() + s.offset;
      const float* g = grads.data() + s.offset;
      float* mm = m.data() + s.offset;
      for (size_t i = 0; i < s.size; i++) {
        const float gi = g[i] * gs;
        mm[i] = beta * mm[i] + (1 - beta) * gi;
        u[i] = (1 - beta) * gi + beta * mm[i];
      }
      newton_schulz5(u.data(), rows, cols, work);
      for (size_t i = 0; i < s.size; i++) p[i] = p[i] * decay - step * u[i];
    }
  }
}

}  // namespace spectral
