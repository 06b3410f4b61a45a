// cross_entropy: softmax over V logits and the negative log-likelihood of the target, fused.
#pragma once

#include <cstdint>

namespace spectral {

// losses (N) = -log softmax(logits)[target]; probs (N,V) saved for backward; logits (N,V).
// Returns the sum of losses (double).
template <typename T>
double cross_entropy_forward(T* losses, T* probs, const T* logits, const int32_t* targets, int N, int V);

// dlogits (N,V) += dloss * (probs - onehot(target)), dloss the same for every row (1/N for a mean).
template <typename T>
void cross_entropy_backward(T* dlogits, const T* probs, const int32_t* targets, T dloss, int N, int V);

}  // namespace spectral
