// evaluate: fixed-window validation loss and whole-text scoring.
#include "eval/evaluate.h"

#include <algorithm>
#include <stdexcept>

#include "data/dataset.h"

namespace spectral {

double validation_loss(Model<float>& model, const std::vector<int32_t>& tokens, int B, int T, int n_batches,
                       const Communicator& comm) {
  const size_t windows = (size_t)B * comm.size * n_batches;
  const auto offsets = fixed_window_offsets(tokens.size(), T, (int)windows);
  const size_t first = (size_t)comm.rank * B * n_batches;  // this process's block of windows
  std::vector<int32_t> x((size_t)B * T), y((size_t)B * T);
  double total = 0;  // Σ of the windows' mean losses
  for (int i = 0; i < n_batches; i++) {
    batch_at(x.data(), y.data(), tokens, offsets.data() + first + (size_t)i * B, B, T);
    total += model.forward(x.data(), y.data(), B, T) * B;
  }
  return comm.sum(total) / double(windows);
}

double score_text(Model<float>& model, const std::vector<int32_t>& tokens, int stride, std::vector<float>* per_position,
                  std::vector<uint8_t>* correct) {
  const int ctx = model.config().context;
  if (stride <= 0 || stride > ctx) throw std::invalid_argument("score_text: stride must be in [1, context]");
  const size_t n = tokens.size();
  if (n < 2) throw std::invalid_argument("score_text: need at least two characters");
  if (per_position) per_position->assign(n - 1, 0.f);
  if (correct) correct->assign(n - 1, 0);
  const int V = model.vocab_size();
  // Windows: inputs tokens[start .. start+len), each scoring the targets not scored before. All
  // windows have the same length (the last one is moved back to end at the text's end), so they
  // are run in batches.
  struct Window {
    size_t start, first_new;  // first_new: first target index (into tokens) this window scores
  };
  const size_t len = std::min<size_t>(ctx, n - 1);
  std::vector<Window> windows;
  size_t scored_until = 0;  // targets tokens[1 .. scored_until] are covered
  for (size_t start = 0;; start += stride) {
    if (start + len > n - 1) start = n - 1 - len;
    windows.push_back({start, scored_until + 1});
    scored_until = start + len;
    if (scored_until >= n - 1) break;
  }
  const int kBatch = 16;
  std::vector<int32_t> x, y;
  double total = 0;
  for (size_t w0 = 0; w0 < windows.size(); w0 += kBatch) {
    const int B = (int)std::min<size_t>(kBatch, windows.size() - w0);
    x.resize((size_t)B * len);
    y.resize((size_t)B * len);
    for (int b = 0; b < B; b++) {
      const size_t s = windows[w0 + b].start;
      std::copy(tokens.begin() + s, tokens.begin() + s + len, x.begin() + (size_t)b * len);
      std::copy(tokens.begin() + s + 1, tokens.begin() + s + 1 + len, y.begin() + (size_t)b * len);
    }
    model.forward(x.data(), y.data(), B, (int)len);
    for (int b = 0; b < B; b++) {
      const Window& w = windows[w0 + b];
      for (size_t p = 0; p < len; p++) {
        const size_t target = w.start + p + 1;  // position p predicts tokens[target]
        if (target < w.first_new) continue;
        const float l = model.losses()[(size_t)b * len + p];
        total += l;
        if (per_position) (*per_position)[target - 1] = l;
        if (correct) {
          const float* z = model.logits() + ((size_t)b * len + p) * V;
          (*correct)[target - 1] = std::max_element(z, z + V) - z == tokens[target];
        }
      }
    }
  }
  return total;
}

}  // namespace spectral
