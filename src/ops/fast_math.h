// fast_math: branch-free float exp and tanh that the compiler vectorizes (glibc's scalar tanhf was
// 60% of a forward pass). exp: range reduction to 2^n · e^r, |r| <= ln2/2, degree-6 polynomial;
// relative error < 2e-7 over the clamped range. Tests compare against std::exp / std::tanh.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace spectral {

inline float fast_expf(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = x - n * 0.693145751953125f - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// tanh(x) = 1 − 2 / (e^{2x} + 1); accurate to ~3e-7 absolute.
inline float fast_tanhf(float x) {
  x = x < -9.0f ? -9.0f : (x > 9.0f ? 9.0f : x);
  return 1.0f - 2.0f / (fast_expf(2.0f * x) + 1.0f);
}

// Precision-generic entry points: float uses the fast forms, double the library (gradient checks).
inline float tanh_of(float x) { return fast_tanhf(x); }
inline double tanh_of(double x) { return std::tanh(x); }
inline float exp_of(float x) { return fast_expf(x); }
inline double exp_of(double x) { return std::exp(x); }

}  // namespace spectral
