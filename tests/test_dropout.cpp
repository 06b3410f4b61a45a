// Dropout: the op keeps each element with probability 1 - p and scales it by 1/(1 - p), with a mask
// that is a function of (seed, index) only; backward applies the same mask and accumulates; the
// whole model's gradient with dropout matches finite differences under a fixed draw; a forward
// without a draw (evaluation, generation) is the plain model whatever model.dropout says.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.h"
#include "model_checks.h"
#include "ops/dropout.h"

using namespace spectral;
using namespace spectral::testing;

TEST(Dropout, KeepsTheRightFractionAndScalesTheSurvivors) {
  const size_t n = 200000;
  std::vector<float> x(n, 1.0f), y(n);
  for (float p : {0.1f, 0.5f, 0.8f}) {
    dropout_forward(y.data(), x.data(), 42, p, n);
    size_t kept = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
      if (y[i] != 0) {
        kept++;
        EXPECT_FLOAT_EQ(y[i], 1.0f / (1.0f - p));
      }
      sum += y[i];
    }
    const double frac = double(kept) / n, sd = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(frac, 1 - p, 5 * sd) << "p = " << p;
    EXPECT_NEAR(sum / n, 1.0, 5 * sd / (1 - p)) << "the mean is preserved, p = " << p;
  }
}

TEST(Dropout, MaskDependsOnSeedAndIndexOnly) {
  const size_t n = 4096;
  std::vector<double> x = [&] {
    std::mt19937 rng(1);
    return random_vector(n, rng);
  }();
  std::vector<double> a(n), b(n), c(n), in_place = x;
  dropout_forward(a.data(), x.data(), 7, 0.3f, n);
  dropout_forward(b.data(), x.data(), 7, 0.3f, n);
  dropout_forward(c.data(), x.data(), 8, 0.3f, n);
  dropout_forward(in_place.data(), in_place.data(), 7, 0.3f, n);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, in_place);
  size_t differ = 0;
  for (size_t i = 0; i < n; i++) {
    EXPECT_EQ(a[i] != 0, dropout_keeps(7, i, 0.3f)) << i;
    differ += (a[i] != 0) != (c[i] != 0);
  }
  // two independent masks at p = 0.3 disagree on 2 p (1 - p) = 42% of the elements
  EXPECT_NEAR(double(differ) / n, 0.42, 0.05);
  // a prefix of a longer tensor has the same mask (the index, not the length, decides)
  std::vector<double> head(100);
  dropout_forward(head.data(), x.data(), 7, 0.3f, head.size());
  EXPECT_TRUE(std::equal(head.begin(), head.end(), a.begin()));
  // p = 0 is the identity
  dropout_forward(b.data(), x.data(), 7, 0.0f, n);
  EXPECT_EQ(b, x);
  // neighbouring steps' seeds give unrelated masks
  EXPECT_NE(dropout_seed(1, 5, 0), dropout_seed(1, 6, 0));
  EXPECT_NE(dropout_seed(1, 5, 0), dropout_seed(1, 5, 1));
  EXPECT_NE(dropout_seed(1, 5, 0), dropout_seed(2, 5, 0));
}

TEST(Dropout, BackwardMatchesFiniteDifferencesAndAccumulates) {
  const size_t n = 300;
  std::mt19937 rng(2);
  std::vector<double> x = random_vector(n, rng), dout = random_vector(n, rng), y(n);
  auto loss = [&] {
    dropout_forward(y.data(), x.data(), 99, 0.25f, n);
    return dot(y, dout);
  };
  const auto numeric = numeric_grad(loss, x.data(), n);
  std::vector<double> prior = random_vector(n, rng), dx = prior;
  dropout_backward(dx.data(), dout.data(), 99, 0.25f, n);
  for (size_t i = 0; i < n; i++) dx[i] -= prior[i];
  EXPECT_LT(rel_error(dx, numeric), 1e-8);
}

class DropoutModel : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(DropoutModel, GradientMatchesFiniteDifferencesUnderAFixedDraw) {
  std::string worst;
  const double e = model_gradient_error(tiny_model_config(GetParam()), 11, 2, 8, &worst, DropoutDraw{0.2f, 1234});
  EXPECT_LT(e, 1e-5) << "worst tensor " << worst;
}

INSTANTIATE_TEST_SUITE_P(Stacks, DropoutModel,
                         ::testing::Values(std::vector<std::string>{"fft", "fft"},
                                           std::vector<std::string>{"rot", "attention", "local"}));

TEST(DropoutModel, OnlyADrawChangesTheForward) {
  ModelConfig cfg = tiny_model_config({"fft", "rot"});
  cfg.dropout = 0.3;
  Model<float> model(cfg, 13);
  model.init(1);
  std::mt19937 rng(3);
  const int B = 2, Tn = 8;
  auto tok = random_tokens(B * Tn, 13, rng), tgt = random_tokens(B * Tn, 13, rng);
  const double plain = model.forward(tok.data(), tgt.data(), B, Tn);
  ModelConfig off = cfg;
  off.dropout = 0;
  Model<float> reference(off, 13);
  reference.params = model.params;
  EXPECT_EQ(plain, reference.forward(tok.data(), tgt.data(), B, Tn)) << "model.dropout must not act without a draw";
  EXPECT_EQ(plain, model.forward(tok.data(), tgt.data(), B, Tn, DropoutDraw{0.0f, 5})) << "p = 0 is no dropout";
  const double drawn = model.forward(tok.data(), tgt.data(), B, Tn, DropoutDraw{0.3f, 5});
  EXPECT_NE(drawn, plain);
  EXPECT_EQ(drawn, model.forward(tok.data(), tgt.data(), B, Tn, DropoutDraw{0.3f, 5}));
  EXPECT_NE(drawn, model.forward(tok.data(), tgt.data(), B, Tn, DropoutDraw{0.3f, 6}));
  EXPECT_THROW(model.forward(tok.data(), tgt.data(), B, Tn, DropoutDraw{1.0f, 5}), std::invalid_argument);
}
