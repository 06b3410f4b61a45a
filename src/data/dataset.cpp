// dataset: split, random and fixed windows.
#include "data/dataset.h"

#include <stdexcept>
#include <string>

namespace spectral {

Split split_tokens(const std::vector<int32_t>& tokens, double val_fraction) {
  const size_t n_train = static_cast<size_t>(double(tokens.size()) * (1.0 - val_fraction));
  Split s;
  s.train.assign(tokens.begin(), tokens.begin() + n_train);
  s.val.assign(tokens.begin() + n_train, tokens.end());
  return s;
}

void random_batch(int32_t* x, int32_t* y, const std::vector<int32_t>& tokens, int B, int T, std::mt19937_64& rng) {
  if (tokens.size() <= (size_t)T) throw std::invalid_argument("random_batch: fewer tokens than one window");
  std::uniform_int_distribution<size_t> pick(0, tokens.size() - T - 1);
  for (int b = 0; b < B; b++) {
    const size_t o = pick(rng);
    for (int t = 0; t < T; t++) {
      x[(size_t)b * T + t] = tokens[o + t];
      y[(size_t)b * T + t] = tokens[o + t + 1];
    }
  }
}

std::vector<size_t> fixed_window_offsets(size_t n_tokens, int T, int n_windows) {
  if (n_tokens <= (size_t)T) throw std::invalid_argument("fixed_window_offsets: fewer tokens than one window");
  const size_t last = n_tokens - T - 1;
  std::vector<size_t> o(n_windows);
  for (int i = 0; i < n_windows; i++) o[i] = n_windows == 1 ? 0 : (size_t)((double)last * i / (n_windows - 1));
  return o;
}

void batch_at(int32_t* x, int32_t* y, const std::vector<int32_t>& tokens, const size_t* offsets, int B, int T) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      x[(size_t)b * T + t] = tokens[offsets[b] + t];
      y[(size_t)b * T + t] = tokens[offsets[b] + t + 1];
    }
}

}  // namespace spectral
