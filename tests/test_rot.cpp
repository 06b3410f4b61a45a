// The rot mixer (model.md, section rot) in its three variants. Core op (ops/rot_scan): level count,
// the float sin/cos, fast == naive reference (forward and backward, odd shapes, levels whose shift
// exceeds T, any slot count), finite-difference gradients in double, the dynamic clamp's zero
// gradient, and the one-position step over ring buffers equal to the forward at every position.
// Mixer layer (model/mixer_rot): finite-difference gradients of the whole layer, causality,
// incremental generation equal to the full forward pass.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "mixer_checks.h"
#include "ops/rot_scan.h"
#include "ops/rot_scan_naive.h"

using namespace spectral;
using namespace spectral::testing;

namespace {

const RotVariant kVariants[] = {RotVariant::LowRank, RotVariant::HeadPhase, RotVariant::Dynamic};
const char* const kNames[] = {"lowrank", "headphase", "dynamic"};

struct ScanShape {
  int B, T, W, H, Lv;
};

// Heads as the op sees them: lowrank phases are per channel, its heads only a view.
int op_heads(RotVariant v, int H) { return v == RotVariant::LowRank ? 1 : H; }

size_t phase_size(RotVariant v, const ScanShape& s) {
  if (v == RotVariant::Dynamic) return size_t(s.Lv) * (s.W / s.H);
  return size_t(s.B) * s.T * s.Lv * rot_phase_width(v, s.W, s.H);
}

// Largest ‖w_l‖·‖θ_0[t,h,:]‖ over levels, positions and heads: with c = 1/√2 a head's row norm never
// grows from level to level (c·(|cos|·a + |sin|·b) <= max(a, b)), so this bounds every raw dynamic
// phase |w_l·θ_l[t,h,:]| for every input with these θ_0 row norms. Below 4, the clamp is inactive.
double dynamic_phase_bound(const std::vector<double>& w, double max_head_norm, int Lv, int hw) {
  double worst = 0;
  for (int l = 0; l < Lv; l++) {
    double n2 = 0;
    for (int j = 0; j < hw; j++) n2 += w[size_t(l) * hw + j] * w[size_t(l) * hw + j];
    worst = std::max(worst, std::sqrt(n2) * max_head_norm);
  }
  return worst;
}

double max_head_norm(const std::vector<double>& theta0, int W, int H) {
  const int hw = W / H;
  double worst = 0;
  for (size_t r = 0; r < theta0.size() / W; r++)
    for (int h = 0; h < H; h++) {
      double n2 = 0;
      for (int j = 0; j < hw; j++) n2 += theta0[r * W + h * hw + j] * theta0[r * W + h * hw + j];
      worst = std::max(worst, std::sqrt(n2));
    }
  return worst;
}

// Random θ_0 and phases for one variant (dynamic w small enough to stay inside the clamp).
struct ScanData {
  std::vector<double> theta0, phase, dout;
};
ScanData random_scan_data(RotVariant v, const ScanShape& s, std::mt19937& rng) {
  ScanData d;
  d.theta0 = random_vector(size_t(s.B) * s.T * s.W, rng);
  d.phase = random_vector(phase_size(v, s), rng, v == RotVariant::Dynamic ? 0.3 : 1.0);
  d.dout = random_vector(d.theta0.size(), rng);
  return d;
}

}  // namespace

TEST(RotScan, LevelCountIsBitLengthOfContextMinusOne) {
  EXPECT_EQ(rot_levels(1), 0);
  EXPECT_EQ(rot_levels(2), 1);
  EXPECT_EQ(rot_levels(3), 2);
  EXPECT_EQ(rot_levels(4), 2);
  EXPECT_EQ(rot_levels(5), 3);
  EXPECT_EQ(rot_levels(16), 4);
  EXPECT_EQ(rot_levels(17), 5);
  EXPECT_EQ(rot_levels(200), 8);
  EXPECT_EQ(rot_levels(256), 8);
  EXPECT_EQ(rot_levels(4096), 12);
  EXPECT_EQ(rot_scale(RotVariant::LowRank), 1.0);
  EXPECT_DOUBLE_EQ(rot_scale(RotVariant::HeadPhase), 1.0 / std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(rot_scale(RotVariant::Dynamic), 1.0 / std::sqrt(2.0));
  EXPECT_THROW(rot_variant_from_name("lowrnak"), std::invalid_argument);
}

TEST(RotScan, FloatSinCosMatchesLibm) {
  std::vector<float> x;
  for (int i = -20000; i <= 20000; i++) x.push_back(float(i) * 0.4096f + 0.1234f * float(i % 7));  // |x| <= 8192
  for (float v : {0.0f, -0.0f, 0.785398f, 1.570796f, 3.141593f, -4.0f, 4.0f, 8192.0f, -8192.0f}) x.push_back(v);
  std::vector<float> c(x.size()), s(x.size());
  rot_sincos(c.data(), s.data(), x.data(), int(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); i++) {
    worst = std::max(worst, std::fabs(c[i] - std::cos(double(x[i]))));
    worst = std::max(worst, std::fabs(s[i] - std::sin(double(x[i]))));
  }
  EXPECT_LT(worst, 2e-7);
}

TEST(RotScan, FastEqualsNaiveForEveryVariant) {
  std::mt19937 rng(20);
  // odd widths (partial 16-channel blocks, head widths not multiples of 8), T not a power of two,
  // levels whose shift is >= T, and a case wider than one block per head
  const ScanShape shapes[] = {{1, 1, 4, 2, 1}, {2, 5, 6, 2, 4}, {3, 7, 9, 3, 4}, {2, 13, 40, 4, 5},
                              {1, 37, 64, 2, 6}, {2, 100, 36, 3, 7}};
  for (int vi = 0; vi < 3; vi++) {
    const RotVariant v = kVariants[vi];
    for (const ScanShape& s : shapes) {
      const int H = op_heads(v, s.H);
      auto d = random_scan_data(v, s, rng);
      const size_t n = d.theta0.size(), np = d.phase.size();
      std::vector<double> ref(n), dth_ref(n, 0.0), dph_ref(np, 0.0);
      rot_scan_naive_forward(ref.data(), d.theta0.data(), d.phase.data(), v, s.B, s.T, s.W, H, s.Lv);
      rot_scan_naive_backward(dth_ref.data(), dph_ref.data(), d.dout.data(), d.theta0.data(), d.phase.data(), v, s.B,
                              s.T, s.W, H, s.Lv);
      std::string where = std::string(kNames[vi]) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) +
                          " W=" + std::to_string(s.W) + " Lv=" + std::to_string(s.Lv);
      for (int slots : {1, 3}) {
        // double: same values up to rounding
        std::vector<double> out(n), saved(rot_scan_saved_size(v, s.B, s.T, s.W, H, s.Lv)),
            work(rot_scan_work_size(v, s.T, s.W, H, s.Lv, slots)), dth(n, 0.0), dph(np, 0.0);
        rot_scan_forward(out.data(), saved.data(), work.data(), d.theta0.data(), d.phase.data(), v, s.B, s.T, s.W, H,
                         s.Lv, slots);
        rot_scan_backward(dth.data(), dph.data(), work.data(), d.dout.data(), d.theta0.data(), d.phase.data(),
                          saved.data(), v, s.B, s.T, s.W, H, s.Lv, slots);
        EXPECT_LT(rel_error(out, ref), 1e-13) << where;
        EXPECT_LT(rel_error(dth, dth_ref), 1e-13) << where;
        EXPECT_LT(rel_error(dph, dph_ref), 1e-13) << where;
        // float: within float rounding (and the polynomial sin/cos)
        std::vector<float> th_f(d.theta0.begin(), d.theta0.end()), ph_f(d.phase.begin(), d.phase.end()),
            dout_f(d.dout.begin(), d.dout.end()), out_f(n), saved_f(saved.size()), work_f(work.size()), dth_f(n, 0.f),
            dph_f(np, 0.f);
        rot_scan_forward(out_f.data(), saved_f.data(), work_f.data(), th_f.data(), ph_f.data(), v, s.B, s.T, s.W, H,
                         s.Lv, slots);
        rot_scan_backward(dth_f.data(), dph_f.data(), work_f.data(), dout_f.data(), th_f.data(), ph_f.data(),
                          saved_f.data(), v, s.B, s.T, s.W, H, s.Lv, slots);
        EXPECT_LT(rel_error_of(out_f.data(), ref.data(), n), 1e-5) << where;
        EXPECT_LT(rel_error_of(dth_f.data(), dth_ref.data(), n), 1e-5) << where;
        EXPECT_LT(rel_error_of(dph_f.data(), dph_ref.data(), np), 1e-5) << where;
      }
    }
  }
}

TEST(RotScan, BackwardAccumulatesIntoGradients) {
  std::mt19937 rng(21);
  const ScanShape s{2, 7, 12, 3, 4};
  for (int vi = 0; vi < 3; vi++) {
    const RotVariant v = kVariants[vi];
    const int H = op_heads(v, s.H);
    auto d = random_scan_data(v, s, rng);
    std::vector<double> out(d.theta0.size()), saved(rot_scan_saved_size(v, s.B, s.T, s.W, H, s.Lv)),
        work(rot_scan_work_size(v, s.T, s.W, H, s.Lv, 2));
    rot_scan_forward(out.data(), saved.data(), work.data(), d.theta0.data(), d.phase.data(), v, s.B, s.T, s.W, H,
                     s.Lv, 2);
    std::vector<double> dth(d.theta0.size(), 0.0), dph(d.phase.size(), 0.0);
    rot_scan_backward(dth.data(), dph.data(), work.data(), d.dout.data(), d.theta0.data(), d.phase.data(),
                      saved.data(), v, s.B, s.T, s.W, H, s.Lv, 2);
    std::vector<double> dth2(dth.size(), 1.5), dph2(dph.size(), -0.5);
    rot_scan_backward(dth2.data(), dph2.data(), work.data(), d.dout.data(), d.theta0.data(), d.phase.data(),
                      saved.data(), v, s.B, s.T, s.W, H, s.Lv, 2);
    for (size_t i = 0; i < dth.size(); i++) EXPECT_NEAR(dth2[i], dth[i] + 1.5, 1e-12) << kNames[vi];
    for (size_t i = 0; i < dph.size(); i++) EXPECT_NEAR(dph2[i], dph[i] - 0.5, 1e-12) << kNames[vi];
  }
}

TEST(RotScan, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(22);
  // context 16 → Lv = 4; T not a power of two; T = 5 leaves levels 3 (shift 8) seeing only zeros
  const ScanShape shapes[] = {{2, 5, 6, 2, 4}, {1, 7, 8, 2, 4}, {1, 13, 9, 3, 4}};
  for (int vi = 0; vi < 3; vi++) {
    const RotVariant v = kVariants[vi];
    for (const ScanShape& s : shapes) {
      const int H = op_heads(v, s.H);
      auto d = random_scan_data(v, s, rng);
      if (v == RotVariant::Dynamic) {
        ASSERT_LT(dynamic_phase_bound(d.phase, max_head_norm(d.theta0, s.W, H), s.Lv, s.W / H), 3.5)
            << "test data must keep the dynamic phases inside the clamp";
      }
      std::vector<double> out(d.theta0.size()), saved(rot_scan_saved_size(v, s.B, s.T, s.W, H, s.Lv)),
          work(rot_scan_work_size(v, s.T, s.W, H, s.Lv, 2));
      auto loss = [&] {
        rot_scan_forward(out.data(), saved.data(), work.data(), d.theta0.data(), d.phase.data(), v, s.B, s.T, s.W, H,
                         s.Lv, 2);
        return dot(out, d.dout);
      };
      loss();
      std::vector<double> dth(d.theta0.size(), 0.0), dph(d.phase.size(), 0.0);
      rot_scan_backward(dth.data(), dph.data(), work.data(), d.dout.data(), d.theta0.data(), d.phase.data(),
                        saved.data(), v, s.B, s.T, s.W, H, s.Lv, 2);
      const std::string where = std::string(kNames[vi]) + " T=" + std::to_string(s.T);
      EXPECT_LT(rel_error(dth, numeric_grad(loss, d.theta0.data(), d.theta0.size())), kGradTol) << where;
      EXPECT_LT(rel_error(dph, numeric_grad(loss, d.phase.data(), d.phase.size())), kGradTol) << where;
    }
  }
}

// A level whose every phase is clamped (raw w_0·θ_0 = 10 > 4) passes no gradient to w_0 — exactly
// zero — while the other level's w_1 (inside the clamp) gets its finite-difference gradient; with
// some positions clamped and others not, w_0's gradient counts only the unclamped ones.
TEST(RotScan, DynamicClampedPhasesGetZeroGradient) {
  const int B = 1, T = 6, W = 4, H = 1, Lv = 2, hw = 4;
  std::mt19937 rng(23);
  for (bool all_clamped : {true, false}) {
    std::vector<double> theta0 = random_vector(size_t(T) * W, rng, 0.1);
    for (int t = 0; t < T; t++) theta0[size_t(t) * W] = (all_clamped || t % 2 == 0) ? 1.0 : 0.1;
    std::vector<double> w = {10.0, 0.0, 0.0, 0.0, 0.3, -0.2, 0.25, 0.1};  // raw_0 = 10 or 1
    auto g = random_vector(theta0.size(), rng);
    std::vector<double> out(theta0.size()), saved(rot_scan_saved_size(RotVariant::Dynamic, B, T, W, H, Lv)),
        work(rot_scan_work_size(RotVariant::Dynamic, T, W, H, Lv, 1));
    auto loss = [&] {
      rot_scan_forward(out.data(), saved.data(), work.data(), theta0.data(), w.data(), RotVariant::Dynamic, B, T, W, H,
                       Lv, 1);
      return dot(out, g);
    };
    loss();
    std::vector<double> dth(theta0.size(), 0.0), dw(w.size(), 0.0);
    rot_scan_backward(dth.data(), dw.data(), work.data(), g.data(), theta0.data(), w.data(), saved.data(),
                      RotVariant::Dynamic, B, T, W, H, Lv, 1);
    auto num_w = numeric_grad(loss, w.data(), w.size());
    auto num_th = numeric_grad(loss, theta0.data(), theta0.size());
    std::vector<double> dw1(dw.begin() + hw, dw.end()), num_w1(num_w.begin() + hw, num_w.end());
    EXPECT_LT(rel_error(dw1, num_w1), kGradTol);
    EXPECT_GT(std::fabs(dw1[0]) + std::fabs(dw1[1]), 1e-6);  // the unclamped level does get a gradient
    EXPECT_LT(rel_error(dth, num_th), kGradTol);
    if (all_clamped) {
      for (int j = 0; j < hw; j++) EXPECT_EQ(dw[j], 0.0) << "w_0[" << j << "]";
      for (int j = 0; j < hw; j++) EXPECT_LT(std::fabs(num_w[j]), 1e-9);
    } else {
      std::vector<double> dw0(dw.begin(), dw.begin() + hw), num_w0(num_w.begin(), num_w.begin() + hw);
      EXPECT_LT(rel_error(dw0, num_w0), kGradTol);
      EXPECT_GT(std::fabs(dw0[0]), 1e-6);
    }
    std::vector<double> dth_ref(theta0.size(), 0.0), dw_ref(w.size(), 0.0);
    rot_scan_naive_backward(dth_ref.data(), dw_ref.data(), g.data(), theta0.data(), w.data(), RotVariant::Dynamic, B,
                            T, W, H, Lv);
    if (all_clamped) {
      for (int j = 0; j < hw; j++) EXPECT_EQ(dw_ref[j], 0.0);
    }
    EXPECT_LT(rel_error(dw, dw_ref), 1e-13);
  }
}

// Feeding the positions one at a time through rot_scan_step (one state per sequence) gives row t of
// rot_scan_forward at every t. The state and the scratch start as NaN, so reading a ring slot before
// it was written would show.
template <typename T>
static double worst_step_error(RotVariant v, const ScanShape& s, int H, int max_len, const ScanData& d) {
  const std::vector<T> theta0(d.theta0.begin(), d.theta0.end()), phase(d.phase.begin(), d.phase.end());
  std::vector<T> full(theta0.size()), saved(rot_scan_saved_size(v, s.B, s.T, s.W, H, s.Lv)),
      work(rot_scan_work_size(v, s.T, s.W, H, s.Lv, 1));
  rot_scan_forward(full.data(), saved.data(), work.data(), theta0.data(), phase.data(), v, s.B, s.T, s.W, H, s.Lv, 1);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const size_t per_pos = v == RotVariant::Dynamic ? 0 : size_t(s.Lv) * rot_phase_width(v, s.W, H);
  double worst = 0;
  for (int b = 0; b < s.B; b++) {
    std::vector<T> state(rot_scan_state_size(s.W, s.Lv, max_len), nan),
        step_work(rot_scan_step_work_size(v, s.W, H, s.Lv), nan), row(s.W);
    for (int t = 0; t < s.T; t++) {
      const size_t r = size_t(b) * s.T + t;
      rot_scan_step(row.data(), state.data(), step_work.data(), theta0.data() + r * s.W, phase.data() + r * per_pos, v,
                    t, max_len, s.W, H, s.Lv);
      const double e = rel_error_of(row.data(), full.data() + r * s.W, s.W);
      if (std::isnan(e)) return e;  // std::max would drop a NaN row
      worst = std::max(worst, e);
    }
  }
  return worst;
}

TEST(RotScan, StepOverRingsEqualsForwardAtEveryPosition) {
  std::mt19937 rng(24);
  // odd widths and head counts, T not a power of two, levels whose shift is >= T, rings longer than
  // the sequence (max_len > T)
  const ScanShape shapes[] = {{1, 1, 4, 2, 1},  {2, 5, 6, 2, 4},  {3, 7, 9, 3, 4},
                              {2, 13, 40, 4, 5}, {1, 37, 15, 3, 6}, {1, 100, 36, 3, 7}};
  for (int vi = 0; vi < 3; vi++) {
    const RotVariant v = kVariants[vi];
    for (const ScanShape& s : shapes) {
      const int H = op_heads(v, s.H);
      ScanData d = random_scan_data(v, s, rng);
      for (int max_len : {s.T, s.T + 9}) {
        const std::string where = std::string(kNames[vi]) + " T=" + std::to_string(s.T) + " W=" + std::to_string(s.W) +
                                  " Lv=" + std::to_string(s.Lv) + " max_len=" + std::to_string(max_len);
        EXPECT_LE(worst_step_error<double>(v, s, H, max_len, d), 1e-12) << where;
        EXPECT_LE(worst_step_error<float>(v, s, H, max_len, d), 1e-5) << where;
      }
      if (v == RotVariant::Dynamic && s.T > 1) {
        // w_0 large enough that the clamp at ±4 is active for some of the level-0 phases w_0·θ_0[t,h,:]
        // (the higher levels keep their small w: a large w would amplify rounding from level to level)
        const int hw = s.W / H;
        for (int j = 0; j < hw; j++) d.phase[j] *= 8;
        int clamped = 0;
        for (size_t r = 0; r < size_t(s.B) * s.T; r++)
          for (int h = 0; h < H; h++) {
            double raw = 0;
            for (int j = 0; j < hw; j++) raw += d.phase[j] * d.theta0[r * s.W + size_t(h) * hw + j];
            clamped += std::fabs(raw) > kRotPhaseClamp;
          }
        EXPECT_GT(clamped, 0) << "T=" << s.T;
        EXPECT_LT(clamped, s.B * s.T * H) << "T=" << s.T;
        EXPECT_LE(worst_step_error<double>(v, s, H, s.T, d), 1e-12) << "dynamic, clamped, T=" << s.T;
        EXPECT_LE(worst_step_error<float>(v, s, H, s.T, d), 1e-5) << "dynamic, clamped, T=" << s.T;
      }
    }
  }
}

// rot_scan_forward over the first n positions, asked for the rings, leaves rings from which
// rot_scan_step continues as it does after stepping through them: every later row equals the stepped
// one (float: to rounding, the forward's arithmetic), for n shorter than, equal to and one short of the
// ring lengths, on one slot and on three. The rings start as NaN: a slot it should have written shows.
// Asking for the rings changes nothing in the forward's output.
template <typename T>
static double worst_prefill_error(RotVariant v, const ScanShape& s, int H, int max_len, int n, const ScanData& d) {
  const std::vector<T> theta0(d.theta0.begin(), d.theta0.end()), phase(d.phase.begin(), d.phase.end());
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const size_t per_pos = v == RotVariant::Dynamic ? 0 : size_t(s.Lv) * rot_phase_width(v, s.W, H);
  std::vector<T> stepped(rot_scan_state_size(s.W, s.Lv, max_len), nan), work(rot_scan_step_work_size(v, s.W, H, s.Lv), nan),
      a(s.W), b(s.W);
  for (int t = 0; t < n; t++)
    rot_scan_step(a.data(), stepped.data(), work.data(), theta0.data() + size_t(t) * s.W, phase.data() + t * per_pos, v,
                  t, max_len, s.W, H, s.Lv);
  std::vector<std::vector<T>> filled;
  std::vector<T> plain_out(size_t(n) * s.W);
  for (int slots : {1, 3}) {
    std::vector<T> out(size_t(n) * s.W), saved(rot_scan_saved_size(v, 1, n, s.W, H, s.Lv)),
        fwd_work(rot_scan_work_size(v, n, s.W, H, s.Lv, slots)), rings(stepped.size(), nan);
    if (slots == 1)
      rot_scan_forward(plain_out.data(), saved.data(), fwd_work.data(), theta0.data(), phase.data(), v, 1, n, s.W, H,
                       s.Lv, 1);
    rot_scan_forward(out.data(), saved.data(), fwd_work.data(), theta0.data(), phase.data(), v, 1, n, s.W, H, s.Lv,
                     slots, rings.data(), max_len);
    if (out != plain_out) return std::numeric_limits<double>::infinity();
    filled.push_back(std::move(rings));
  }
  double worst = 0;
  for (int t = n; t < s.T; t++) {
    const T* th = theta0.data() + size_t(t) * s.W;
    const T* ph = phase.data() + t * per_pos;
    rot_scan_step(a.data(), stepped.data(), work.data(), th, ph, v, t, max_len, s.W, H, s.Lv);
    for (std::vector<T>& st : filled) {
      rot_scan_step(b.data(), st.data(), work.data(), th, ph, v, t, max_len, s.W, H, s.Lv);
      const double e = rel_error_of(b.data(), a.data(), s.W);
      if (std::isnan(e)) return e;
      worst = std::max(worst, e);
    }
  }
  return worst;
}

TEST(RotScan, PrefillLeavesTheRingsTheStepsLeave) {
  std::mt19937 rng(25);
  const ScanShape shapes[] = {{1, 9, 4, 2, 4}, {1, 40, 6, 2, 6}, {1, 100, 12, 3, 7}, {1, 50, 40, 4, 6}};
  for (int vi = 0; vi < 3; vi++) {
    const RotVariant v = kVariants[vi];
    for (const ScanShape& s : shapes) {
      const int H = op_heads(v, s.H);
      const ScanData d = random_scan_data(v, s, rng);
      for (int n : {1, 2, 3, 7, 8, 16, 33, s.T - 1}) {
        if (n >= s.T) continue;
        const std::string where = std::string(kNames[vi]) + " T=" + std::to_string(s.T) + " n=" + std::to_string(n);
        EXPECT_LE(worst_prefill_error<double>(v, s, H, s.T, n, d), 1e-12) << where;
        EXPECT_LE(worst_prefill_error<float>(v, s, H, s.T, n, d), 1e-6) << where;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// the mixer layer
// ---------------------------------------------------------------------------------------------

namespace {
ModelConfig rot_config(const std::string& variant, int d, int heads, int context, int rank = 0) {
  ModelConfig cfg = small_model_config(d, heads, context);
  cfg.mixer = {"rot"};
  cfg.rot = RotConfig{variant, rank};
  return cfg;
}

// For dynamic: the clamp must stay inactive in the layer's gradient check. θ_0 is RMS-normalised,
// so every head row has norm < √d, and the rig's w_level must satisfy ‖w_l‖·√d < 4.
void expect_dynamic_clamp_inactive(const ModelConfig& cfg, int B, int Tn) {
  MixerRig<double> rig("rot", cfg, B, Tn);
  const ParamSpec* w = rig.layout.find("m.w_level");
  ASSERT_NE(w, nullptr);
  const int Lv = w->shape[0], hw = w->shape[1];
  std::vector<double> wl(rig.params.begin() + w->offset, rig.params.begin() + w->offset + w->size);
  ASSERT_LT(dynamic_phase_bound(wl, std::sqrt(double(cfg.d_model)), Lv, hw), 3.5);
}
}  // namespace

TEST(RotMixer, DeclaresTheDocumentedParameters) {
  for (const char* v : kNames) {
    auto cfg = rot_config(v, 8, 2, 16, v == std::string("lowrank") ? 3 : 0);
    MixerRig<float> rig("rot", cfg, 1, 4);
    const ParamSpec* th = rig.layout.find("m.w_theta");
    const ParamSpec* out = rig.layout.find("m.w_out");
    ASSERT_NE(th, nullptr);
    ASSERT_NE(out, nullptr);
    const int W = v == std::string("lowrank") ? 3 : 8;
    EXPECT_EQ(th->shape, (std::vector<int>{W, 8})) << v;
    EXPECT_EQ(out->shape, (std::vector<int>{8, W})) << v;
    if (v == std::string("dynamic")) {
      ASSERT_NE(rig.layout.find("m.w_level"), nullptr);
      EXPECT_EQ(rig.layout.find("m.w_level")->shape, (std::vector<int>{4, 4}));
      EXPECT_EQ(rig.layout.find("m.w_phi"), nullptr);
    } else {
      ASSERT_NE(rig.layout.find("m.w_phi"), nullptr);
      EXPECT_EQ(rig.layout.find("m.w_phi")->shape, (std::vector<int>{4 * (W == 3 ? 3 : 2), 8})) << v;
    }
    for (const auto& s : rig.layout.specs()) EXPECT_TRUE(s.decay) << s.name;
  }
  auto cfg = rot_config("lowrank", 8, 2, 16, 0);  // rank 0 → d/4
  MixerRig<float> rig("rot", cfg, 1, 4);
  EXPECT_EQ(rig.layout.find("m.w_theta")->shape, (std::vector<int>{2, 8}));
}

TEST(RotMixer, GradientMatchesFiniteDifferences) {
  struct Case {
    const char* variant;
    int d, heads, context, rank, B, Tn;
  };
  const Case cases[] = {{"lowrank", 8, 2, 16, 3, 2, 7},    {"lowrank", 8, 2, 16, 0, 1, 13},
                        {"headphase", 8, 2, 16, 0, 2, 7},  {"headphase", 9, 3, 16, 0, 1, 13},
                        {"dynamic", 8, 2, 16, 0, 2, 7},    {"dynamic", 9, 3, 16, 0, 1, 5}};
  for (const Case& c : cases) {
    auto cfg = rot_config(c.variant, c.d, c.heads, c.context, c.rank);
    if (c.variant == std::string("dynamic")) expect_dynamic_clamp_inactive(cfg, c.B, c.Tn);
    std::string worst;
    const double e = mixer_gradient_error("rot", cfg, c.B, c.Tn, &worst);
    EXPECT_LT(e, kGradTol) << c.variant << " d=" << c.d << " T=" << c.Tn << " worst: " << worst;
  }
}

TEST(RotMixer, IsCausal) {
  for (const char* v : kNames) {
    auto cfg = rot_config(v, 16, 2, 64);
    for (int t0 : {1, 5, 20, 33, 63}) EXPECT_LT(mixer_causality_leak("rot", cfg, 2, 64, t0), 1e-5) << v << " t0=" << t0;
    // shorter than the context: the top levels see only zeros
    EXPECT_LT(mixer_causality_leak("rot", cfg, 1, 23, 9), 1e-5) << v;
  }
}

TEST(RotMixer, IncrementalStepAndPrefillEqualFullForward) {
  for (const char* v : kNames) {
    auto cfg = rot_config(v, 16, 2, 200);
    EXPECT_LT(mixer_incremental_error("rot", cfg, 200), 1e-4) << v;
    auto cfg2 = rot_config(v, 24, 3, 256, 5);
    EXPECT_LT(mixer_incremental_error("rot", cfg2, 211), 1e-4) << v;
    EXPECT_LT(mixer_prefill_error("rot", cfg2, 211), 1e-4) << v;
  }
}

// rot_scan_step_batch over S streams at once (interleaved rings, one scratch per stream) gives, row
// for row and bit for bit, what rot_scan_step gives on each stream alone, at every position: stepped
// together from position 0, and from rings stored stream by stream (rot_scan_store_stream) halfway;
// with S·W·Lv large enough for the streams to run in parallel too.
TEST(RotScan, BatchedStepEqualsOneStepPerStream) {
  std::mt19937 rng(31);
  const ScanShape shapes[] = {{3, 9, 6, 2, 4}, {5, 20, 12, 3, 5}, {64, 6, 64, 4, 8}};
  for (int vi = 0; vi < 3; vi++) {
    const RotVariant v = kVariants[vi];
    for (const ScanShape& s : shapes) {
      const int H = op_heads(v, s.H), S = s.B, max_len = s.T + 3, t0 = s.T / 2;
      const ScanData d = random_scan_data(v, s, rng);
      const std::vector<float> theta0(d.theta0.begin(), d.theta0.end()), phase(d.phase.begin(), d.phase.end());
      const size_t per_pos = v == RotVariant::Dynamic ? 0 : size_t(s.Lv) * rot_phase_width(v, s.W, H);
      const size_t ssize = rot_scan_state_size(s.W, s.Lv, max_len), wsize = rot_scan_step_work_size(v, s.W, H, s.Lv);
      std::vector<float> one_state(size_t(S) * ssize), one_work(wsize), from0(size_t(S) * ssize),
          stored(size_t(S) * ssize), batch_work(size_t(S) * wsize), th(size_t(S) * s.W), ph(size_t(S) * per_pos),
          one(size_t(S) * s.W), a(size_t(S) * s.W), b(size_t(S) * s.W);
      const float* shared = v == RotVariant::Dynamic ? phase.data() : ph.data();
      for (int t = 0; t < s.T; t++) {
        if (t == t0)
          for (int i = 0; i < S; i++)
            rot_scan_store_stream(stored.data(), one_state.data() + size_t(i) * ssize, s.W, s.Lv, max_len, S, i);
        for (int i = 0; i < S; i++) {  // stream i's row t
          const size_t r = size_t(i) * s.T + t;
          std::copy_n(theta0.data() + r * s.W, s.W, th.data() + size_t(i) * s.W);
          std::copy_n(phase.data() + r * per_pos, per_pos, ph.data() + size_t(i) * per_pos);
          rot_scan_step(one.data() + size_t(i) * s.W, one_state.data() + size_t(i) * ssize, one_work.data(),
                        th.data() + size_t(i) * s.W, v == RotVariant::Dynamic ? phase.data() : ph.data() + size_t(i) * per_pos,
                        v, t, max_len, s.W, H, s.Lv);
        }
        rot_scan_step_batch(a.data(), from0.data(), batch_work.data(), th.data(), shared, v, t, max_len, s.W, H, s.Lv, S, 0, S);
        ASSERT_EQ(a, one) << kNames[vi] << " S=" << S << " t=" << t;
        if (t >= t0) {
          rot_scan_step_batch(b.data(), stored.data(), batch_work.data(), th.data(), shared, v, t, max_len, s.W, H, s.Lv,
                              S, 0, S);
          ASSERT_EQ(b, one) << kNames[vi] << " S=" << S << " t=" << t << " (stored at " << t0 << ")";
        }
      }
    }
  }
}
