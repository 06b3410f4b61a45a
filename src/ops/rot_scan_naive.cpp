// rot_scan_naive: the rot level loop by direct loops in double (reference for tests).
#include "ops/rot_scan_naive.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace spectral {

namespace {
// All level states θ_0 … θ_Lv in double, and the Dynamic raw phases (Lv, B, T, H).
struct NaiveStates {
  std::vector<std::vector<double>> theta;
  std::vector<double> raw;
};
}  // namespace

template <typename T>
static NaiveStates naive_states(const T* theta0, const T* phase, RotVariant v, int B, int Tn, int W, int H,
                                int Lv) {
  const int hw = W / H;
  const double c = rot_scale(v);
  NaiveStates st;
  st.theta.assign(Lv + 1, std::vector<double>(size_t(B) * Tn * W));
  if (v == RotVariant::Dynamic) st.raw.assign(size_t(Lv) * B * Tn * H, 0.0);
  for (size_t i = 0; i < size_t(B) * Tn * W; i++) st.theta[0][i] = theta0[i];
  for (int l = 0; l < Lv; l++) {
    const long s = 1L << l;
    const auto& a = st.theta[l];
    auto& y = st.theta[l + 1];
    for (int b = 0; b < B; b++)
      for (int t = 0; t < Tn; t++) {
        for (int ch = 0; ch < W; ch++) {
          const int h = ch / hw;
          double p;
          if (v == RotVariant::LowRank) {
            p = phase[((size_t(b) * Tn + t) * Lv + l) * W + ch];
          } else if (v == RotVariant::HeadPhase) {
            p = phase[((size_t(b) * Tn + t) * Lv + l) * H + h];
          } else {
            double raw = 0;
            for (int j = 0; j < hw; j++) raw += double(phase[size_t(l) * hw + j]) * a[(size_t(b) * Tn + t) * W + h * hw + j];
            st.raw[((size_t(l) * B + b) * Tn + t) * H + h] = raw;
            p = std::min(std::max(raw, -kRotPhaseClamp), kRotPhaseClamp);
          }
          const double prev = t >= s ? a[(size_t(b) * Tn + t - s) * W + ch] : 0.0;
          y[(size_t(b) * Tn + t) * W + ch] = c * (std::cos(p) * a[(size_t(b) * Tn + t) * W + ch] + std::sin(p) * prev);
        }
      }
  }
  return st;
}

template <typename T>
void rot_scan_naive_forward(T* out, const T* theta0, const T* phase, RotVariant v, int B, int Tn, int W, int H,
                            int Lv) {
  NaiveStates st = naive_states(theta0, phase, v, B, Tn, W, H, Lv);
  for (size_t i = 0; i < size_t(B) * Tn * W; i++) out[i] = T(st.theta[Lv][i]);
}

template <typename T>
void rot_scan_naive_backward(T* dtheta0, T* dphase, const T* dout, const T* theta0, const T* phase,
                             RotVariant v, int B, int Tn, int W, int H, int Lv) {
  NaiveStates st = naive_states(theta0, phase, v, B, Tn, W, H, Lv);
  const int hw = W / H;
  const double c = rot_scale(v);
  const size_t BTW = size_t(B) * Tn * W;
  std::vector<double> G(dout, dout + BTW), Gn(BTW), dpre(size_t(B) * Tn * H);
  for (int l = Lv - 1; l >= 0; l--) {
    const long s = 1L << l;
    const auto& a = st.theta[l];
    std::fill(Gn.begin(), Gn.end(), 0.0);
    std::fill(dpre.begin(), dpre.end(), 0.0);
    for (int b = 0; b < B; b++)
      for (int t = 0; t < Tn; t++)
        for (int ch = 0; ch < W; ch++) {
          const int h = ch / hw;
          const size_t i = (size_t(b) * Tn + t) * W + ch;
          double p;
          if (v == RotVariant::LowRank)
            p = phase[((size_t(b) * Tn + t) * Lv + l) * W + ch];
          else if (v == RotVariant::HeadPhase)
            p = phase[((size_t(b) * Tn + t) * Lv + l) * H + h];
          else
            p = std::min(std::max(st.raw[((size_t(l) * B + b) * Tn + t) * H + h], -kRotPhaseClamp), kRotPhaseClamp);
          const double prev = t >= s ? a[i - s * W] : 0.0;
          Gn[i] += c * std::cos(p) * G[i];
          if (t >= s) Gn[i - s * W] += c * std::sin(p) * G[i];
          const double dp = c * G[i] * (-std::sin(p) * a[i] + std::cos(p) * prev);
          if (v == RotVariant::LowRank)
            dphase[((size_t(b) * Tn + t) * Lv + l) * W + ch] += T(dp);
          else if (v == RotVariant::HeadPhase)
            dphase[((size_t(b) * Tn + t) * Lv + l) * H + h] += T(dp);
          else
            dpre[(size_t(b) * Tn + t) * H + h] += dp;
        }
    if (v == RotVariant::Dynamic) {
      std::vector<double> dw(hw, 0.0);
      for (int b = 0; b < B; b++)
        for (int t = 0; t < Tn; t++)
          for (int h = 0; h < H; h++) {
            const double raw = st.raw[((size_t(l) * B + b) * Tn + t) * H + h];
            if (raw < -kRotPhaseClamp || raw > kRotPhaseClamp) continue;  // clamped: no gradient
            const double d = dpre[(size_t(b) * Tn + t) * H + h];
            for (int j = 0; j < hw; j++) {
              const size_t i = (size_t(b) * Tn + t) * W + h * hw + j;
              dw[j] += d * a[i];
              Gn[i] += d * phase[size_t(l) * hw + j];
            }
          }
      for (int j = 0; j < hw; j++) dphase[size_t(l) * hw + j] += T(dw[j]);
    }
    G.swap(Gn);
  }
  for (size_t i = 0; i < BTW; i++) dtheta0[i] += T(G[i]);
}

#define SPECTRAL_ROT_NAIVE_INSTANTIATE(T)                                                                     \
  template void rot_scan_naive_forward<T>(T*, const T*, const T*, RotVariant, int, int, int, int, int);     \
  template void rot_scan_naive_backward<T>(T*, T*, const T*, const T*, const T*, RotVariant, int, int, int, int, \
                                           int);
SPECTRAL_ROT_NAIVE_INSTANTIATE(float)
SPECTRAL_ROT_NAIVE_INSTANTIATE(double)
#undef SPECTRAL_ROT_NAIVE_INSTANTIATE

}  // namespace spectral
