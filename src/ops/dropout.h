// dropout: inverted dropout with a mask drawn from a counter-based hash of (seed, index), so that
// backward recomputes the mask instead of storing it, a resumed run draws the same masks, and any
// thread can draw any element. Each element is kept with probability 1 - p and scaled by 1/(1 - p).
#pragma once

#include <cstddef>
#include <cstdint>

namespace spectral {

// Whether element i survives dropout p under seed (the mask both passes use).
bool dropout_keeps(uint64_t seed, size_t i, float p);

// out = mask(seed) ⊙ inp / (1 - p); out may be inp (in place). p must be in [0, 1).
template <typename T>
void dropout_forward(T* out, const T* inp, uint64_t seed, float p, size_t n, size_t first = 0);

// dinp += mask(seed) ⊙ dout / (1 - p)  (dinp must not alias dout)
template <typename T>
void dropout_backward(T* dinp, const T* dout, uint64_t seed, float p, size_t n, size_t first = 0);

// A seed per (run seed, step, site): the masks of one step's sites are independent of each other
// and of other steps'.
uint64_t dropout_seed(uint64_t run_seed, uint64_t step, uint64_t site);

}  // namespace spectral
