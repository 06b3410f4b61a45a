// Muon (train/muon), the optimizer that puts it beside AdamW (train/optimizer) and the weights'
// average (train/ema), each against a float64 computation written here independently:
//   Muon:  m = β·m + (1−β)·s·g ; U = (1−β)·s·g + β·m ; X = U/‖U‖_F, transposed when rows > cols ;
//          5 × { A = X·Xᵀ ; X = a·X + (b·A + c·A²)·X } with (a, b, c) = (3.4445, −4.7750, 2.0315),
//          transposed back ; W = W·(1 − lr·wd) − lr·√max(1, rows/cols)·X
//   EMA:   after n updates, Σ_k dⁿ⁻ᵏ(1−d)·θ_k / (1−dⁿ)
// plus the rule that picks Muon's tensors, on the layouts of every mixer.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "model/model.h"
#include "model/params.h"
#include "train/adamw.h"
#include "train/ema.h"
#include "train/muon.h"
#include "train/optimizer.h"

using namespace spectral;

namespace {

using Matrix = std::vector<double>;  // row-major

Matrix transpose(const Matrix& x, int rows, int cols) {
  Matrix t(x.size());
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) t[size_t(j) * rows + i] = x[size_t(i) * cols + j];
  return t;
}

// (n, k) · (k, p)
Matrix matmul(const Matrix& a, const Matrix& b, int n, int k, int p) {
  Matrix c(size_t(n) * p, 0.0);
  for (int i = 0; i < n; i++)
    for (int l = 0; l < k; l++)
      for (int j = 0; j < p; j++) c[size_t(i) * p + j] += a[size_t(i) * k + l] * b[size_t(l) * p + j];
  return c;
}

// The quintic Newton–Schulz iteration in double, the way Muon's reference code writes it: on the
// wide orientation (transposing a tall matrix first and back at the end).
Matrix newton_schulz_reference(Matrix g, int rows, int cols) {
  const double a = 3.4445, b = -4.7750, c = 2.0315;
  const bool tall = rows > cols;
  if (tall) {
    g = transpose(g, rows, cols);
    std::swap(rows, cols);
  }
  double norm = 0;
  for (double x : g) norm += x * x;
  norm = std::sqrt(norm);
  for (double& x : g) x /= norm + 1e-7;
  for (int it = 0; it < 5; it++) {
    const Matrix A = matmul(g, transpose(g, rows, cols), rows, cols, rows);
    const Matrix AA = matmul(A, A, rows, rows, rows);
    Matrix B(A.size());
    for (size_t i = 0; i < A.size(); i++) B[i] = b * A[i] + c * AA[i];
    const Matrix BX = matmul(B, g, rows, rows, cols);
    for (size_t i = 0; i < g.size(); i++) g[i] = a * g[i] + BX[i];
  }
  return tall ? transpose(g, rows, cols) : g;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, double std) {
  std::normal_distribution<double> dist(0.0, std);
  std::vector<float> x(n);
  for (float& v : x) v = float(dist(rng));
  return x;
}

double relative_difference(const std::vector<float>& x, const Matrix& ref) {
  double d = 0, n = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    d += (x[i] - ref[i]) * (x[i] - ref[i]);
    n += ref[i] * ref[i];
  }
  return std::sqrt(d / n);
}

// Singular values of the reference's output, squared: the eigenvalues of X·Xᵀ (wide) by Jacobi.
std::vector<double> squared_singular_values(const Matrix& x, int rows, int cols) {
  Matrix w = rows > cols ? transpose(x, rows, cols) : x;
  const int r = std::min(rows, cols), c = std::max(rows, cols);
  Matrix A = matmul(w, transpose(w, r, c), r, c, r);
  for (int sweep = 0; sweep < 50; sweep++)
    for (int p = 0; p < r; p++)
      for (int q = p + 1; q < r; q++) {
        const double apq = A[size_t(p) * r + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = 0.5 * std::atan2(2 * apq, A[size_t(q) * r + q] - A[size_t(p) * r + p]);
        const double cs = std::cos(theta), sn = std::sin(theta);
        for (int k = 0; k < r; k++) {  // A ← Jᵀ A J
          const double akp = A[size_t(k) * r + p], akq = A[size_t(k) * r + q];
          A[size_t(k) * r + p] = cs * akp - sn * akq;
          A[size_t(k) * r + q] = sn * akp + cs * akq;
        }
        for (int k = 0; k < r; k++) {
          const double apk = A[size_t(p) * r + k], aqk = A[size_t(q) * r + k];
          A[size_t(p) * r + k] = cs * apk - sn * aqk;
          A[size_t(q) * r + k] = sn * apk + cs * aqk;
        }
      }
  std::vector<double> ev(r);
  for (int i = 0; i < r; i++) ev[i] = A[size_t(i) * r + i];
  return ev;
}

const std::vector<std::pair<int, int>> kShapes = {{8, 8}, {6, 20}, {20, 6}, {16, 64}, {64, 16}, {48, 40}};

}  // namespace

// The float iteration through gemm agrees with the double reference (both orientations), and the
// reference itself does what Newton–Schulz is for: singular values pulled into about [0.7, 1.2].
TEST(Muon, NewtonSchulzMatchesFloat64Reference) {
  std::mt19937 rng(11);
  std::vector<float> work;
  for (const auto& [rows, cols] : kShapes) {
    const auto g = random_floats(size_t(rows) * cols, rng, 0.3);
    const Matrix ref = newton_schulz_reference(Matrix(g.begin(), g.end()), rows, cols);
    auto x = g;
    newton_schulz5(x.data(), rows, cols, work);
    const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
    EXPECT_LT(relative_difference(x, ref), 2e-5) << shape;
    for (double s2 : squared_singular_values(ref, rows, cols)) {
      EXPECT_GT(std::sqrt(s2), 0.6) << shape;
      EXPECT_LT(std::sqrt(s2), 1.25) << shape;
    }
  }
}

// The scale of the input does not matter (the iteration starts from U/‖U‖), and a zero matrix
// stays zero (the 1e-7 keeps the division finite).
TEST(Muon, NewtonSchulzIgnoresScaleAndKeepsZero) {
  std::mt19937 rng(12);
  std::vector<float> work;
  const auto g = random_floats(12 * 30, rng, 1.0);
  auto a = g, b = g;
  for (float& v : b) v *= 1000.f;
  newton_schulz5(a.data(), 12, 30, work);
  newton_schulz5(b.data(), 12, 30, work);
  EXPECT_LT(relative_difference(a, Matrix(b.begin(), b.end())), 1e-5);
  std::vector<float> z(5 * 7, 0.f);
  newton_schulz5(z.data(), 5, 7, work);
  for (float v : z) EXPECT_EQ(v, 0.f);
}

// Which tensors Muon takes, on the layout of each mixer: the blocks' projections on the model
// width; never embeddings, the output head, norms, biases, fft kernels / d_skip, rot's w_level.
TEST(Muon, EligibilityRuleOnEveryMixersLayout) {
  struct Case {
    std::string mixer, variant;
    bool tied;
    std::set<std::string> muon;  // per layer, without "layers.<i>."
  };
  const std::vector<Case> cases = {
      {"fft", "", true, {"mixer.w_in", "mixer.w_gate", "mixer.w_out", "mlp.w1", "mlp.w2"}},
      {"rot", "dynamic", true, {"mixer.w_theta", "mixer.w_out", "mlp.w1", "mlp.w2"}},
      {"rot", "lowrank", false, {"mixer.w_theta", "mixer.w_phi", "mixer.w_out", "mlp.w1", "mlp.w2"}},
      {"rot", "headphase", true, {"mixer.w_theta", "mixer.w_phi", "mixer.w_out", "mlp.w1", "mlp.w2"}},
      {"attention", "", true, {"mixer.w_qkv", "mixer.w_out", "mlp.w1", "mlp.w2"}},
      {"local", "", true, {"mixer.w_qkv", "mixer.w_out", "mlp.w1", "mlp.w2"}},
  };
  for (const auto& c : cases) {
    ModelConfig mc = default_config().model;
    mc.n_layers = 2;
    mc.d_model = 64;
    mc.context = 64;
    mc.mixer = {c.mixer};
    mc.tie_embeddings = c.tied;
    if (!c.variant.empty()) mc.rot.variant = c.variant;
    const ParamLayout L = Model<float>::layout_for(mc, 65);
    std::set<std::string> got, want;
    for (int i = 0; i < mc.n_layers; i++)
      for (const auto& n : c.muon) want.insert("layers." + std::to_string(i) + "." + n);
    for (const auto& s : L.specs())
      if (muon_eligible(s, mc.d_model)) got.insert(s.name);
    EXPECT_EQ(got, want) << c.mixer << " " << c.variant;
    // and what the optimizer logs names exactly those
    TrainConfig t = default_config().train;
    t.optimizer = "muon";
    const Optimizer opt(L, t, mc.d_model);
    for (const auto& n : want) EXPECT_NE(opt.muon_tensors().find(n + " "), std::string::npos) << n;
  }
}

// One Optimizer update with train.optimizer = "muon" on a layout of a tall, a wide and a square
// matrix beside tensors AdamW keeps: Muon's tensors match the double computation (momentum given,
// gradient clipped, weight decay on), AdamW's match a plain AdamW over the same values, and Muon's
// tensors leave v at zero.
TEST(Muon, OptimizerUpdateMatchesFloat64Computation) {
  const int d = 12;
  ParamLayout L;
  L.add("wte", {10, d}, Init::Normal, 0.02, true);
  L.add("layers.0.ln1.weight", {d}, Init::Ones, 0, false);
  L.add("layers.0.mixer.w_in", {d, d}, Init::Normal, 0.1, true);
  L.add("layers.0.mixer.kernel", {d, 16}, Init::Custom, 0, false);
  L.add("layers.0.mlp.w1", {3 * d, d}, Init::Normal, 0.1, true);
  L.add("layers.0.mlp.b1", {3 * d}, Init::Zeros, 0, false);
  L.add("layers.0.mlp.w2", {d, 3 * d}, Init::Normal, 0.1, true);
  TrainConfig t = default_config().train;
  t.optimizer = "muon";
  t.lr = 4e-3;
  t.muon_lr = 0.05;
  t.muon_momentum = 0.9;
  t.muon_weight_decay = 0.2;
  std::mt19937 rng(13);
  const auto p0 = random_floats(L.total(), rng, 0.5);
  const auto g = random_floats(L.total(), rng, 2.0);
  const auto m0 = random_floats(L.total(), rng, 0.1);
  auto v0 = random_floats(L.total(), rng, 0.2);
  for (float& x : v0) x = x * x;
  const double lr = 2e-3, scale = 0.25;  // the schedule's rate (half of train.lr) and a clip factor
  const double muon_lr = lr * t.muon_lr / t.lr;

  Optimizer opt(L, t, d);
  opt.m() = m0;
  opt.v() = v0;
  std::vector<float> p = p0;
  opt.update(p, g, lr, 4, scale);

  std::vector<bool> adam_owns;
  for (const auto& s : L.specs()) adam_owns.push_back(!muon_eligible(s, d));
  AdamW adam(L, t, adam_owns);
  adam.m = m0;
  adam.v = v0;
  std::vector<float> pa = p0;
  adam.update(pa, g, lr, 4, scale);

  const double beta = t.muon_momentum;
  for (const auto& s : L.specs()) {
    const size_t o = s.offset;
    if (!muon_eligible(s, d)) {
      for (size_t i = o; i < o + s.size; i++) {
        EXPECT_EQ(p[i], pa[i]) << s.name;
        EXPECT_EQ(opt.m()[i], adam.m[i]) << s.name;
        EXPECT_EQ(opt.v()[i], adam.v[i]) << s.name;
      }
      continue;
    }
    const int rows = s.shape[0], cols = s.shape[1];
    Matrix m(s.size), u(s.size), m_terms(s.size);
    for (size_t k = 0; k < s.size; k++) {
      const double gk = scale * double(g[o + k]);
      m[k] = beta * m0[o + k] + (1 - beta) * gk;
      u[k] = (1 - beta) * gk + beta * m[k];
      m_terms[k] = beta * std::fabs(m0[o + k]) + (1 - beta) * std::fabs(gk);
    }
    const Matrix x = newton_schulz_reference(u, rows, cols);
    const double factor = std::sqrt(std::max(1.0, double(rows) / cols));
    double diff = 0, step = 0;
    for (size_t k = 0; k < s.size; k++) {
      const double want = p0[o + k] * (1 - muon_lr * t.muon_weight_decay) - muon_lr * factor * x[k];
      diff += (p[o + k] - want) * (p[o + k] - want);
      step += (want - p0[o + k]) * (want - p0[o + k]);
      // β is a float in the update (0.9 is not one): 1e-6 of the size of the terms
      EXPECT_NEAR(opt.m()[o + k], m[k], 1e-6 * m_terms[k]) << s.name;
      EXPECT_EQ(opt.v()[o + k], v0[o + k]) << s.name << ": Muon leaves v alone";
    }
    // the parameters move by the step to within 1e-4 of its size (float rounding of the
    // iteration); a wrong scale, sign, orientation or coefficient is off by O(1)
    EXPECT_LT(std::sqrt(diff / step), 1e-4) << s.name;
  }
}

// With train.optimizer = "adamw" the Optimizer is AdamW over every tensor, bit for bit.
TEST(Muon, AdamwOptimizerIsPlainAdamw) {
  ParamLayout L;
  L.add("wte", {7, 8}, Init::Normal, 0.02, true);
  L.add("layers.0.mixer.w_in", {8, 8}, Init::Normal, 0.1, true);
  L.add("layers.0.mlp.b1", {8}, Init::Zeros, 0, false);
  const TrainConfig t = default_config().train;
  std::mt19937 rng(14);
  const auto p0 = random_floats(L.total(), rng, 0.5), g = random_floats(L.total(), rng, 1.0);
  Optimizer opt(L, t, 8);
  EXPECT_EQ(opt.muon_tensors(), "");
  AdamW adam(L, t);
  std::vector<float> a = p0, b = p0;
  for (int step = 1; step <= 3; step++) {
    opt.update(a, g, 1e-3, step, 0.5);
    adam.update(b, g, 1e-3, step, 0.5);
  }
  EXPECT_EQ(a, b);
  EXPECT_EQ(opt.m(), adam.m);
  EXPECT_EQ(opt.v(), adam.v);
}

// The average after each of several updates equals Σ_k dⁿ⁻ᵏ(1−d)·θ_k / (1−dⁿ), computed directly;
// the first update copies the weights (the starting point carries no weight).
TEST(Muon, WeightAverageMatchesDirectComputation) {
  const double d = 0.8;
  std::mt19937 rng(15);
  const size_t n = 37;
  WeightAverage avg(d);
  ASSERT_TRUE(avg.on());
  EXPECT_FALSE(WeightAverage(0.0).on());
  avg.reset(random_floats(n, rng, 5.0), 0);  // a start far from the weights: it must not show
  std::vector<std::vector<float>> thetas;
  for (int step = 1; step <= 6; step++) {
    thetas.push_back(random_floats(n, rng, 1.0));
    avg.update(thetas.back());
    EXPECT_EQ(avg.updates, step);
    for (size_t i = 0; i < n; i++) {
      double num = 0;
      for (int k = 1; k <= step; k++) num += std::pow(d, step - k) * (1 - d) * thetas[k - 1][i];
      const double want = num / (1 - std::pow(d, step));
      EXPECT_NEAR(avg.weights[i], want, 1e-6) << "step " << step << " element " << i;
    }
    if (step == 1) {
      EXPECT_EQ(avg.weights, thetas[0]);
    }
  }
}
