// The causal FFT convolution: equals the direct O(T²) convolution (with and without keeping its
// spectra for backward), has the right gradient (checked
// by finite differences, and against the direct convolution's), and is causal; the same causality
// check fails on the seed's circular (unpadded) convolution. Its one-position step reproduces the
// forward at every position.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "ops/fft_conv.h"
#include "util/threads.h"

using namespace spectral;
using namespace spectral::testing;

namespace {
struct ConvCase {
  int B, T, C, kstride;
};
}  // namespace

TEST(FftConv, EqualsNaiveDirectConvolution) {
  std::mt19937 rng(10);
  for (ConvCase cs : {ConvCase{1, 1, 1, 1}, {2, 5, 3, 8}, {3, 7, 19, 7}, {2, 64, 33, 100}, {1, 300, 17, 300}}) {
    auto u = random_vector((size_t)cs.B * cs.T * cs.C, rng), k = random_vector((size_t)cs.C * cs.kstride, rng),
         D = random_vector(cs.C, rng);
    std::vector<float> uf(u.begin(), u.end()), kf(k.begin(), k.end()), Df(D.begin(), D.end());
    std::vector<float> y(u.size()), saved(fft_conv_saved_size(cs.B, cs.T, cs.C));
    std::vector<double> yref(u.size());
    fft_conv_forward(y.data(), saved.data(), uf.data(), kf.data(), cs.kstride, Df.data(), cs.B, cs.T, cs.C);
    conv_naive_forward(yref.data(), u.data(), k.data(), cs.kstride, D.data(), cs.B, cs.T, cs.C);
    EXPECT_LT(rel_error_of(y.data(), yref.data(), y.size()), 1e-5) << "B=" << cs.B << " T=" << cs.T;
    // without saved (inference): the same values, bit for bit
    std::vector<float> y_nosave(u.size());
    fft_conv_forward(y_nosave.data(), (float*)nullptr, uf.data(), kf.data(), cs.kstride, Df.data(), cs.B, cs.T, cs.C);
    EXPECT_EQ(y_nosave, y) << "without saved, B=" << cs.B << " T=" << cs.T;
    std::vector<double> yd(u.size()), savedd(fft_conv_saved_size(cs.B, cs.T, cs.C));
    fft_conv_forward(yd.data(), savedd.data(), u.data(), k.data(), cs.kstride, D.data(), cs.B, cs.T, cs.C);
    EXPECT_LT(rel_error(yd, yref), 1e-12);
  }
}

// Feeding the positions one at a time through fft_conv_step (one cache per sequence) gives row t of
// fft_conv_forward at every t. Cache rows not yet fed start as NaN, so reading them would show.
template <typename T>
static double worst_step_error(const ConvCase& cs, const std::vector<double>& ud, const std::vector<double>& kd,
                               const std::vector<double>& Dd) {
  const std::vector<T> u(ud.begin(), ud.end()), k(kd.begin(), kd.end()), D(Dd.begin(), Dd.end());
  std::vector<T> full(u.size()), saved(fft_conv_saved_size(cs.B, cs.T, cs.C));
  fft_conv_forward(full.data(), saved.data(), u.data(), k.data(), cs.kstride, D.data(), cs.B, cs.T, cs.C);
  double worst = 0;
  for (int b = 0; b < cs.B; b++) {
    std::vector<T> cache((size_t)cs.T * cs.C, std::numeric_limits<T>::quiet_NaN()), row(cs.C), kt((size_t)cs.T * cs.C);
    // the taps transposed in two pieces, as a cache that grows does it
    fft_conv_step_taps(kt.data(), k.data(), cs.kstride, 0, cs.T / 2, cs.C);
    fft_conv_step_taps(kt.data(), k.data(), cs.kstride, cs.T / 2, cs.T, cs.C);
    for (int t = 0; t < cs.T; t++) {
      const size_t r = ((size_t)b * cs.T + t) * cs.C;
      fft_conv_step(row.data(), cache.data(), u.data() + r, kt.data(), D.data(), t, cs.C);
      const double e = rel_error_of(row.data(), full.data() + r, cs.C);
      if (std::isnan(e)) return e;  // std::max would drop a NaN row
      worst = std::max(worst, e);
    }
  }
  return worst;
}

TEST(FftConv, StepEqualsForwardAtEveryPosition) {
  std::mt19937 rng(15);
  for (ConvCase cs : {ConvCase{1, 1, 1, 1}, {2, 5, 3, 8}, {3, 7, 19, 7}, {1, 70, 5, 70}, {2, 33, 17, 100}, {1, 21, 150, 30}}) {
    auto u = random_vector((size_t)cs.B * cs.T * cs.C, rng), k = random_vector((size_t)cs.C * cs.kstride, rng),
         D = random_vector(cs.C, rng);
    EXPECT_LE(worst_step_error<double>(cs, u, k, D), 1e-12) << "B=" << cs.B << " T=" << cs.T << " C=" << cs.C;
    EXPECT_LE(worst_step_error<float>(cs, u, k, D), 1e-5) << "B=" << cs.B << " T=" << cs.T << " C=" << cs.C;
  }
}

TEST(FftConv, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(11);
  for (ConvCase cs : {ConvCase{2, 5, 3, 6}, {1, 7, 5, 7}, {3, 6, 17, 9}}) {
    const int B = cs.B, T = cs.T, C = cs.C, ks = cs.kstride;
    auto u = random_vector((size_t)B * T * C, rng), k = random_vector((size_t)C * ks, rng), D = random_vector(C, rng),
         g = random_vector((size_t)B * T * C, rng);
    std::vector<double> y(u.size()), saved(fft_conv_saved_size(B, T, C));
    auto loss = [&] {
      fft_conv_forward(y.data(), saved.data(), u.data(), k.data(), ks, D.data(), B, T, C);
      return dot(y, g);
    };
    loss();
    std::vector<double> du(u.size(), 0), dk(k.size(), 0), dD(C, 0);
    fft_conv_backward(du.data(), dk.data(), dD.data(), g.data(), u.data(), k.data(), ks, D.data(), saved.data(), B,
                      T, C);
    EXPECT_LT(rel_error(du, numeric_grad(loss, u.data(), u.size())), kGradTol);
    EXPECT_LT(rel_error(dk, numeric_grad(loss, k.data(), k.size())), kGradTol);
    EXPECT_LT(rel_error(dD, numeric_grad(loss, D.data(), D.size())), kGradTol);
    // taps beyond T get no gradient
    for (int c = 0; c < C; c++)
      for (int s = T; s < ks; s++) EXPECT_EQ(dk[(size_t)c * ks + s], 0.0);
    // and the direct convolution's backward agrees
    std::vector<double> du2(u.size(), 0), dk2(k.size(), 0), dD2(C, 0);
    conv_naive_backward(du2.data(), dk2.data(), dD2.data(), g.data(), u.data(), k.data(), ks, D.data(), B, T, C);
    EXPECT_LT(rel_error(du, du2), 1e-12);
    EXPECT_LT(rel_error(dk, dk2), 1e-12);
    EXPECT_LT(rel_error(dD, dD2), 1e-12);
  }
}

// Shapes large enough for the OpenMP branches (B·C·N and C·N at least kMinParallelWork), run on 2
// threads whatever the machine's default: forward and backward in float against the direct
// convolution in double.
TEST(FftConv, ParallelBranchesEqualNaive) {
  const int saved_threads = num_threads();
  set_threads(2);
  std::mt19937 rng(16);
  const int B = 2, T = 600, C = 32, ks = 600;  // N = 1200: B·C·N = 76800, C·N = 38400 ≥ 2^15
  static_assert((long)C * 1200 >= kMinParallelWork, "the kernel-spectra loop must run in parallel");
  auto u = random_vector((size_t)B * T * C, rng), k = random_vector((size_t)C * ks, rng), D = random_vector(C, rng),
       g = random_vector((size_t)B * T * C, rng);
  std::vector<float> uf(u.begin(), u.end()), kf(k.begin(), k.end()), Df(D.begin(), D.end()), gf(g.begin(), g.end());
  std::vector<float> y(u.size()), saved(fft_conv_saved_size(B, T, C));
  fft_conv_forward(y.data(), saved.data(), uf.data(), kf.data(), ks, Df.data(), B, T, C);
  std::vector<float> du(u.size(), 0), dk(k.size(), 0), dD(C, 0);
  fft_conv_backward(du.data(), dk.data(), dD.data(), gf.data(), uf.data(), kf.data(), ks, Df.data(), saved.data(), B,
                    T, C);
  std::vector<double> yref(u.size()), du2(u.size(), 0), dk2(k.size(), 0), dD2(C, 0);
  conv_naive_forward(yref.data(), u.data(), k.data(), ks, D.data(), B, T, C);
  conv_naive_backward(du2.data(), dk2.data(), dD2.data(), g.data(), u.data(), k.data(), ks, D.data(), B, T, C);
  set_threads(saved_threads);
  EXPECT_LT(rel_error_of(y.data(), yref.data(), y.size()), 1e-5);
  EXPECT_LT(rel_error_of(du.data(), du2.data(), du.size()), 1e-5);
  EXPECT_LT(rel_error_of(dk.data(), dk2.data(), dk.size()), 1e-5);
  EXPECT_LT(rel_error_of(dD.data(), dD2.data(), dD.size()), 1e-5);
}

// Change u at t0 only; outputs before t0 must not move.
template <typename Forward>
static double max_change_before(Forward fwd, int B, int T, int C, int t0) {
  std::mt19937 rng(12);
  auto u = random_vector((size_t)B * T * C, rng);
  std::vector<float> a(u.begin(), u.end()), b = a, ya(a.size()), yb(a.size());
  for (int bb = 0; bb < B; bb++)
    for (int c = 0; c < C; c++) b[((size_t)bb * T + t0) * C + c] += 3.0f;
  fwd(ya.data(), a.data());
  fwd(yb.data(), b.data());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < ya.size(); i++) scale = std::max(scale, (double)std::fabs(ya[i]));
  for (int bb = 0; bb < B; bb++)
    for (int t = 0; t < t0; t++)
      for (int c = 0; c < C; c++) {
        size_t i = ((size_t)bb * T + t) * C + c;
        worst = std::max(worst, (double)std::fabs(ya[i] - yb[i]));
      }
  return worst / scale;
}

TEST(FftConv, IsCausal) {
  const int B = 2, T = 64, C = 8;
  std::mt19937 rng(13);
  auto kd = random_vector((size_t)C * T, rng), Dd = random_vector(C, rng);
  std::vector<float> k(kd.begin(), kd.end()), D(Dd.begin(), Dd.end()), saved(fft_conv_saved_size(B, T, C));
  for (int t0 : {1, 17, 40, 63}) {
    double leak = max_change_before(
        [&](float* y, const float* u) { fft_conv_forward(y, saved.data(), u, k.data(), T, D.data(), B, T, C); }, B,
        T, C, t0);
    EXPECT_LT(leak, 1e-5) << "t0=" << t0;
  }
}

TEST(FftConv, CausalityCheckCatchesTheCircularLeak) {
  const int B = 1, T = 64, C = 8;
  std::mt19937 rng(14);
  auto kd = random_vector((size_t)C * T, rng), Dd = random_vector(C, rng);
  std::vector<float> k(kd.begin(), kd.end()), D(Dd.begin(), Dd.end());
  double leak = max_change_before(
      [&](float* y, const float* u) { conv_naive_forward(y, u, k.data(), T, D.data(), B, T, C, /*circular=*/true); },
      B, T, C, 40);
  EXPECT_GT(leak, 1e-2);  // the seed's unpadded FFT leaks the future by orders of magnitude
}

// fft_conv_step_batch over S streams at once (each with its own cache, the taps shared) gives, bit
// for bit, what fft_conv_step gives on each stream alone, at every position; with enough streams and
// positions for the streams to run in parallel too.
TEST(FftConv, BatchedStepEqualsOneStepPerStream) {
  std::mt19937 rng(35);
  for (ConvCase cs : {ConvCase{3, 9, 5, 9}, {4, 30, 17, 40}, {64, 40, 32, 40}}) {
    const int S = cs.B, max_len = cs.T + 1;
    const auto ud = random_vector((size_t)S * cs.T * cs.C, rng), kd = random_vector((size_t)cs.C * cs.kstride, rng),
               Dd = random_vector(cs.C, rng);
    const std::vector<float> u(ud.begin(), ud.end()), k(kd.begin(), kd.end()), D(Dd.begin(), Dd.end());
    std::vector<float> kt((size_t)cs.T * cs.C);
    fft_conv_step_taps(kt.data(), k.data(), cs.kstride, 0, cs.T, cs.C);
    const size_t cache = (size_t)max_len * cs.C;
    std::vector<float> c1(S * cache), cb(S * cache), row((size_t)S * cs.C), one((size_t)S * cs.C), batch((size_t)S * cs.C);
    for (int t = 0; t < cs.T; t++) {
      for (int i = 0; i < S; i++) {
        std::copy_n(u.data() + ((size_t)i * cs.T + t) * cs.C, cs.C, row.data() + (size_t)i * cs.C);
        fft_conv_step(one.data() + (size_t)i * cs.C, c1.data() + i * cache, row.data() + (size_t)i * cs.C, kt.data(),
                      D.data(), t, cs.C);
      }
      fft_conv_step_batch(batch.data(), cb.data(), cache, row.data(), kt.data(), D.data(), t, cs.C, S);
      ASSERT_EQ(batch, one) << "S=" << S << " T=" << cs.T << " t=" << t;
    }
  }
}
