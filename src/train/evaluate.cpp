// evaluate: fixed-window validation loss and whole-text scoring.
#include "train/evaluate.h"

#include <algorithm>
#include <stdexcept>

#include "data/dataset.h"

namespace spectral {

double validation_loss(Model<float>& model, const std::vector<int32_t>& tokens, int B, int T, int n_batches) {
  const auto offsets = fixed_window_offsets(tokens.size(), T, B * n_batches);
  std::vector<int32_t> x((size_t)B * T), y((size_t)B * T);
  double total = 0;
  for (int i = 0; i < n_batches; i++) {
    batch_at(x.data(), y.data(), tokens, offsets.data() + (size_t)i * B, B, T);
    total += model.forward(x.data(), y.data(), B, T);
  }
  return total / n_batches;
}

double score_text(Model<float>& model, const std::vector<int32_t>& tokens, int stride, std::vector<float>* per_position) {
  const int ctx = model.config().context;
  if (stride <= 0 || stride > ctx) throw std::invalid_argument("score_text: stride must be in [1, context]");
  const size_t n = tokens.size();
  if (n < 2) throw std::invalid_argument("score_text: need at least two characters");
  if (per_position) per_position->assign(n - 1, 0.f);
  double total = 0;
  size_t scored_until = 0;  // predictions of tokens[1 .. scored_until] are done
  size_t start = 0;
  while (scored_until < n - 1) {
    const size_t len = std::min<size_t>(ctx, n - 1 - start);  // inputs tokens[start .. start+len)
    std::vector<int32_t> y(tokens.begin() + start + 1, tokens.begin() + start + 1 + len);
    model.forward(tokens.data() + start, y.data(), 1, (int)len);
    // position p in this window predicts tokens[start+p+1]; score those beyond scored_until
    for (size_t p = 0; p < len; p++) {
      const size_t target = start + p + 1;
      if (target <= scored_until) continue;
      const float l = model.losses()[p];
      total += l;
      if (per_position) (*per_position)[target - 1] = l;
    }
    scored_until = start + len;
    if (scored_until >= n - 1) break;
    start += stride;
    if (start + ctx > n - 1) start = n - 1 > (size_t)ctx ? n - 1 - ctx : 0;
  }
  return total;
}

}  // namespace spectral
