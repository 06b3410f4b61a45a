// dataset: the token stream split into train and validation, random training windows, and the
// fixed validation windows every evaluation uses (so val losses compare across steps and runs).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace spectral {

struct Split {
  std::vector<int32_t> train, val;
};

// First (1 − val_fraction) of the tokens train, the rest validate (nanoGPT's split: n = int(0.9·len)).
Split split_tokens(const std::vector<int32_t>& tokens, double val_fraction);

// Fills x (B,T) and y (B,T) with windows tokens[o .. o+T) and tokens[o+1 .. o+T] at random
// offsets o drawn from rng. Requires tokens.size() > T.
void random_batch(int32_t* x, int32_t* y, const std::vector<int32_t>& tokens, int B, int T, std::mt19937_64& rng);

// Offsets of n_windows windows of length T (+1 target) spread evenly over tokens.
std::vector<size_t> fixed_window_offsets(size_t n_tokens, int T, int n_windows);

// Fills x, y (B,T) from the given offsets.
void batch_at(int32_t* x, int32_t* y, const std::vector<int32_t>& tokens, const size_t* offsets, int B, int T);

}  // namespace spectral
