// The online convolution of incremental generation (ops/fft_online): stepped one position at a time
// it gives, at every position, what the direct convolution gives over the whole sequence (so every
// (input, output) pair is counted exactly once: a missed or doubled pair would be an error of the
// order of the values, far above rounding), for many base blocks and lengths that are and are not
// multiples of them; a prefill of n positions leaves the state that n steps leave.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "ops/fft_conv.h"
#include "ops/fft_online.h"

using namespace spectral;
using namespace spectral::testing;

namespace {

struct OnlineCase {
  int T, C, L0;
};

// Taps of one scale at every lag (no decay), so that far pairs weigh as much as near ones.
template <typename T>
struct Signals {
  std::vector<T> u, k, D, ref;  // u (T,C), k (C,T), D (C), ref = the direct convolution (T,C)
  Signals(const OnlineCase& cs, std::mt19937& rng) {
    auto ud = random_vector((size_t)cs.T * cs.C, rng), kd = random_vector((size_t)cs.C * cs.T, rng),
         Dd = random_vector(cs.C, rng);
    std::vector<double> yd(ud.size());
    conv_naive_forward(yd.data(), ud.data(), kd.data(), cs.T, Dd.data(), 1, cs.T, cs.C);
    u.assign(ud.begin(), ud.end());
    k.assign(kd.begin(), kd.end());
    D.assign(Dd.begin(), Dd.end());
    ref.assign(yd.begin(), yd.end());
  }
};

// Steps 0..T−1 from an empty state (cache rows not yet fed are NaN, so reading one would show); the
// worst relative error of a row against the direct convolution. rows (T,C) gets every output.
template <typename T>
double worst_online_error(const OnlineCase& cs, const Signals<T>& s, std::vector<T>* rows = nullptr) {
  FftOnlineTaps<T> taps;
  fft_online_begin(taps, s.k.data(), cs.T, cs.C, cs.T, cs.L0);
  std::vector<T> cache((size_t)cs.T * cs.C, std::numeric_limits<T>::quiet_NaN());
  std::vector<T> pending((size_t)cs.T * cs.C, T(0)), row(cs.C);
  double worst = 0;
  for (int t = 0; t < cs.T; t++) {
    fft_online_make_levels(taps, s.k.data(), cs.T, fft_online_levels_for_step(t, cs.T, cs.L0));
    fft_online_step(row.data(), cache.data(), pending.data(), s.u.data() + (size_t)t * cs.C, taps, s.D.data(), t, cs.C);
    const double e = rel_error_of(row.data(), s.ref.data() + (size_t)t * cs.C, cs.C);
    if (std::isnan(e)) return e;
    worst = std::max(worst, e);
    if (rows) std::copy(row.begin(), row.end(), rows->begin() + (size_t)t * cs.C);
  }
  EXPECT_EQ(taps.levels_made(), fft_online_levels(cs.T, cs.L0));
  return worst;
}

const OnlineCase kCases[] = {{1, 3, 1},   {5, 3, 1},    {7, 2, 3},    {64, 5, 1},   {64, 5, 4},  {65, 5, 4},
                             {300, 7, 4}, {300, 7, 16}, {257, 17, 8}, {256, 3, 32}, {40, 3, 64}, {200, 33, 5},
                             {1100, 11, 16}};  // the last: squares of levels 16 .. 512, most in several blocks

}  // namespace

TEST(FftOnline, LevelsCoverTheLength) {
  EXPECT_EQ(fft_online_levels(1, 1), 0);
  EXPECT_EQ(fft_online_levels(64, 64), 0);  // one base block: all direct
  EXPECT_EQ(fft_online_levels(65, 64), 1);
  EXPECT_EQ(fft_online_levels(65536, 64), 10);  // squares of 64 .. 32768
  // the square after input pos: level v₂((pos+1)/L0), none past max_len or inside a base block
  EXPECT_EQ(fft_online_levels_for_step(2, 100, 4), 0);
  EXPECT_EQ(fft_online_levels_for_step(3, 100, 4), 1);
  EXPECT_EQ(fft_online_levels_for_step(7, 100, 4), 2);
  EXPECT_EQ(fft_online_levels_for_step(11, 100, 4), 1);
  EXPECT_EQ(fft_online_levels_for_step(63, 100, 4), 5);
  EXPECT_EQ(fft_online_levels_for_step(99, 100, 4), 0);
  EXPECT_EQ(fft_online_levels_for_prefill(3, 100, 4), 0);
  EXPECT_EQ(fft_online_levels_for_prefill(4, 100, 4), 1);
  EXPECT_EQ(fft_online_levels_for_prefill(100, 100, 4), 5);
}

TEST(FftOnline, StepEqualsDirectConvolutionAtEveryPosition) {
  std::mt19937 rng(31);
  for (const OnlineCase& cs : kCases) {
    const Signals<double> sd(cs, rng);
    EXPECT_LE(worst_online_error<double>(cs, sd), 1e-12) << "T=" << cs.T << " C=" << cs.C << " L0=" << cs.L0;
    const Signals<float> sf(cs, rng);
    EXPECT_LE(worst_online_error<float>(cs, sf), 2e-5) << "T=" << cs.T << " C=" << cs.C << " L0=" << cs.L0;
  }
}

// The reference beside it: fft_conv_step's direct sum over the history gives the same rows.
TEST(FftOnline, StepEqualsTheDirectStep) {
  std::mt19937 rng(32);
  const OnlineCase cs{300, 9, 8};
  const Signals<double> s(cs, rng);
  std::vector<double> online((size_t)cs.T * cs.C);
  worst_online_error<double>(cs, s, &online);
  std::vector<double> kt((size_t)cs.T * cs.C), cache((size_t)cs.T * cs.C), row(cs.C);
  fft_conv_step_taps(kt.data(), s.k.data(), cs.T, 0, cs.T, cs.C);
  double worst = 0;
  for (int t = 0; t < cs.T; t++) {
    fft_conv_step(row.data(), cache.data(), s.u.data() + (size_t)t * cs.C, kt.data(), s.D.data(), t, cs.C);
    worst = std::max(worst, rel_error_of(row.data(), online.data() + (size_t)t * cs.C, cs.C));
  }
  EXPECT_LE(worst, 1e-12);
}

// Prefill of n positions from their inputs, then steps n..T−1: the rows the steps from position 0
// give, for n at and around block boundaries of several levels, and n = T.
TEST(FftOnline, PrefillThenStepsEqualsStepsFromTheStart) {
  std::mt19937 rng(33);
  for (const OnlineCase& cs : {OnlineCase{300, 5, 4}, OnlineCase{257, 3, 8}, OnlineCase{64, 4, 1}}) {
    const Signals<double> s(cs, rng);
    std::vector<double> stepped((size_t)cs.T * cs.C);
    worst_online_error<double>(cs, s, &stepped);
    for (int n : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 192, 255, 256, 257, 299, 300}) {
      if (n > cs.T) continue;
      FftOnlineTaps<double> taps;
      fft_online_begin(taps, s.k.data(), cs.T, cs.C, cs.T, cs.L0);
      fft_online_make_levels(taps, s.k.data(), cs.T, fft_online_levels_for_prefill(n, cs.T, cs.L0));
      std::vector<double> cache((size_t)cs.T * cs.C, std::numeric_limits<double>::quiet_NaN());
      std::copy(s.u.begin(), s.u.begin() + (size_t)n * cs.C, cache.begin());
      std::vector<double> pending((size_t)cs.T * cs.C, 0.0), row(cs.C);
      fft_online_prefill(pending.data(), cache.data(), taps, n, cs.C);
      double worst = 0;
      for (int t = n; t < cs.T; t++) {
        fft_online_make_levels(taps, s.k.data(), cs.T,
                               std::max(taps.levels_made(), fft_online_levels_for_step(t, cs.T, cs.L0)));
        fft_online_step(row.data(), cache.data(), pending.data(), s.u.data() + (size_t)t * cs.C, taps, s.D.data(), t,
                        cs.C);
        const double e = rel_error_of(row.data(), stepped.data() + (size_t)t * cs.C, cs.C);
        worst = std::isnan(e) ? e : std::max(worst, e);
      }
      EXPECT_LE(worst, 1e-13) << "T=" << cs.T << " L0=" << cs.L0 << " prefill of " << n;
    }
  }
}
