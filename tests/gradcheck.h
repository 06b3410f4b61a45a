// gradcheck: the finite-difference machinery every op test uses. Central differences in double,
// a random upstream gradient (never a plain sum), norm-wise relative error.
#pragma once

#include <cmath>
#include <functional>
#include <random>
#include <vector>

namespace spectral::testing {

inline std::vector<double> random_vector(size_t n, std::mt19937& rng, double scale = 1.0) {
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// ∂loss/∂x by central differences; loss() reads x through the pointer and must not change it.
inline std::vector<double> numeric_grad(const std::function<double()>& loss, double* x, size_t n,
                                        double eps = 1e-6) {
  std::vector<double> g(n);
  for (size_t i = 0; i < n; i++) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = loss();
    x[i] = keep - eps;
    const double down = loss();
    x[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

// ||a − b|| / max(||a||, ||b||, tiny)
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); i++) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nb), 1e-30});
}

// Same as rel_error for float data (fast path vs reference comparisons).
template <typename A, typename B>
double rel_error_of(const A* a, const B* b, size_t n) {
  double diff = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; i++) {
    double x = a[i], y = b[i];
    diff += (x - y) * (x - y);
    na += x * x;
    nb += y * y;
  }
  return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nb), 1e-30});
}

constexpr double kGradTol = 1e-6;  // double precision, eps = 1e-6: a wrong gradient is >> this

}  // namespace spectral::testing
