// cross_entropy: forward/backward.
#include "ops/cross_entropy.h"

#include <cmath>

#include "ops/fast_math.h"

#include "util/threads.h"

namespace spectral {

template <typename T>
double cross_entropy_forward(T* losses, T* probs, const T* logits, const int32_t* targets, int N, int V) {
  double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total) if((long)N * V >= kMinParallelWork)
  for (int n = 0; n < N; n++) {
    const T* z = logits + (long)n * V;
    T* p = probs + (long)n * V;
    T mx = z[0];
    for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
    double sum = 0;
    for (int v = 0; v < V; v++) {
      p[v] = exp_of(z[v] - mx);
      sum += p[v];
    }
    T inv = T(1.0 / sum);
    for (int v = 0; v < V; v++) p[v] *= inv;
    double l = -(double(z[targets[n]]) - mx - std::log(sum));
    losses[n] = T(l);
    total += l;
  }
  return total;
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* probs, const int32_t* targets, T dloss, int N, int V) {
#pragma omp parallel for schedule(static) if((long)N * V >= kMinParallelWork)
  for (int n = 0; n < N; n++) {
    const T* p = probs + (long)n * V;
    T* d = dlogits + (long)n * V;
    for (int v = 0; v < V; v++) d[v] += dloss * p[v];
    d[targets[n]] -= dloss;
  }
}

template double cross_entropy_forward<float>(float*, float*, const float*, const int32_t*, int, int);
template double cross_entropy_forward<double>(double*, double*, const double*, const int32_t*, int, int);
template void cross_entropy_backward<float>(float*, const float*, const int32_t*, float, int, int);
template void cross_entropy_backward<double>(double*, const double*, const int32_t*, double, int, int);

}  // namespace spectral
