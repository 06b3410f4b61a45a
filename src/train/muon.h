// muon: Muon (momentum orthogonalized by Newton–Schulz, after Keller Jordan's Muon and
// modded-nanogpt) for the hidden weight matrices, and the one rule that says which tensors those
// are. Every other tensor stays with AdamW (train/optimizer.h puts the two together).
//
// One update of a matrix G (rows, cols), the gradient times the clipping factor:
//   m ← β·m + (1−β)·G                     momentum (train.muon_momentum = β), an average of gradients
//   U ← (1−β)·G + β·m                     Nesterov: the gradient pulled toward the new momentum
//   O ← NS5(U)                            ≈ the orthogonal factor of U (its singular values set near 1)
//   W ← W·(1 − lr·wd) − lr·√max(1, rows/cols)·O
// with wd = train.muon_weight_decay (decoupled, like AdamW's) and lr the schedule's rate scaled to
// train.muon_lr. The √max(1, rows/cols) factor is Keller Jordan's: a tall matrix (rows > cols, e.g.
// an MLP's first layer, hidden × d) gets larger steps, since its orthogonal factor's entries are
// smaller. (The other common choice, 0.2·√max(rows, cols), matches AdamW's update size so that the
// AdamW rate can be reused; it is not the one here: Muon has its own rate.)
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "model/params.h"

namespace spectral {

// Whether Muon updates the tensor (when train.optimizer = "muon"). A tensor qualifies when
//  - it is 2-D and belongs to a block (name "layers.<i>.…"): the token and position embeddings and
//    the output head are excluded by their role;
//  - it carries weight decay: the layout marks norms, biases, fft kernels and d_skip decay = false;
//  - one of its dimensions is d_model: a projection into, out of or along the residual stream (the
//    mixers' d×d and d×W projections, the MLP's d×4d pair). rot dynamic's w_level (levels × head
//    width) is a table of per-level vectors, not such a projection, and stays with AdamW.
bool muon_eligible(const ParamSpec& s, int d_model);

// The quintic Newton–Schulz iteration that Muon uses, in place on X (rows, cols), row-major:
// X ← X / (‖X‖_F + 1e-7), then 5 times  A = X·Xᵀ, B = b·A + c·A·A, X ← a·X + B·X  with
// (a, b, c) = (3.4445, −4.7750, 2.0315); when rows > cols the same on Xᵀ (done without transposing:
// A = XᵀX, X ← a·X + X·B). The result has X's singular vectors and singular values in roughly
// [0.7, 1.2]. The products are the project's gemm; work is resized as needed.
void newton_schulz5(float* X, int rows, int cols, std::vector<float>& work);

class Muon {
 public:
  Muon(const ParamLayout& layout, const TrainConfig& t, int d_model);
  // owns()[i]: whether tensor i of the layout (layout order) is Muon's.
  const std::vector<bool>& owns() const { return owns_; }
  // The names and shapes of Muon's tensors, one line ("layers.0.mixer.w_in 128x128, ...").
  std::string describe() const;
  // One update of every Muon tensor (see the top of this file). m holds the momentum in the
  // parameter layout (only Muon's tensors are touched); lr is Muon's rate for this step.
  void update(std::vector<float>& params, const std::vector<float>& grads, std::vector<float>& m, double lr,
              double grad_scale);

 private:
  const ParamLayout& layout_;
  double momentum_, weight_decay_;
  std::vector<bool> owns_;
  std::vector<size_t> order_;  // Muon's tensors, largest first
};

}  // namespace spectral
