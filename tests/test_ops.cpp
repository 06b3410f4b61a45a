// Finite-difference gradient checks for the dense ops (linear, embedding, rmsnorm, gelu,
// cross-entropy) and BLAS against the naive matmul.
#include <gtest/gtest.h>

#include "gradcheck.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/gelu.h"
#include "ops/relu_squared.h"
#include "ops/gemm.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "util/threads.h"
#include "util/zeroed_buffer.h"

#include <cmath>
#include <limits>
#include <tuple>

using namespace spectral;
using namespace spectral::testing;

TEST(Gemm, BlasEqualsNaiveAllTransposes) {
  std::mt19937 rng(1);
  const int M = 7, N = 5, K = 9;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      auto A = random_vector(M * K, rng), B = random_vector(K * N, rng), C1 = random_vector(M * N, rng);
      auto C2 = C1;
      gemm(ta, tb, M, N, K, 0.7, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.3, C1.data(), N);
      gemm_naive<double>(ta, tb, M, N, K, 0.7, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.3, C2.data(), N);
      EXPECT_LT(rel_error(C1, C2), 1e-12) << "transA=" << ta << " transB=" << tb;
    }
}

// On 2 and 3 threads whatever the machine's default (one thread would never split).
TEST(Gemm, ThreadSplitEqualsNaiveForTallAndWideProducts) {
  const int saved_threads = num_threads();
  std::mt19937 rng(11);
  for (int threads : {2, 3}) {
  set_threads(threads);
  // (M, N, K): tall (split by rows), wide (split by columns), odd sizes that leave a ragged block
  for (auto [M, N, K] : {std::tuple{301, 17, 45}, {9, 517, 61}, {130, 130, 33}}) {
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        auto A = random_vector((size_t)M * K, rng), B = random_vector((size_t)K * N, rng), C1 = random_vector((size_t)M * N, rng);
        auto C2 = C1;
        std::vector<float> A32(A.begin(), A.end()), B32(B.begin(), B.end()), C32(C1.begin(), C1.end());
        gemm(ta, tb, M, N, K, 1.0, A.data(), ta ? M : K, B.data(), tb ? K : N, 1.0, C1.data(), N);
        gemm(ta, tb, M, N, K, 1.0f, A32.data(), ta ? M : K, B32.data(), tb ? K : N, 1.0f, C32.data(), N);
        gemm_naive<double>(ta, tb, M, N, K, 1.0, A.data(), ta ? M : K, B.data(), tb ? K : N, 1.0, C2.data(), N);
        EXPECT_LT(rel_error(C1, C2), 1e-12) << M << "x" << N << "x" << K << " tA=" << ta << " tB=" << tb;
        EXPECT_LT(rel_error_of(C32.data(), C2.data(), C2.size()), 1e-5) << M << "x" << N << "x" << K;
      }
  }
  }
  set_threads(saved_threads);
}

// The one-row product (incremental generation) against the naive matmul: row counts on both sides of
// the 8-row blocks, lengths with and without a tail of the 8-lane loop, with and without bias.
TEST(Gemm, GemvEqualsNaive) {
  std::mt19937 rng(12);
  for (auto [OC, C] : {std::pair{1, 1}, {7, 5}, {8, 8}, {9, 13}, {24, 128}, {65, 128}, {128, 512}, {352, 131}}) {
    auto W = random_vector((size_t)OC * C, rng), x = random_vector(C, rng), b = random_vector(OC, rng);
    std::vector<float> W32(W.begin(), W.end()), x32(x.begin(), x.end()), b32(b.begin(), b.end());
    for (bool with_bias : {false, true}) {
      std::vector<double> ref(with_bias ? b : std::vector<double>(OC, 0.0)), out(OC);
      gemm_naive<double>(false, true, 1, OC, C, 1.0, x.data(), C, W.data(), C, 1.0, ref.data(), OC);
      std::vector<float> out32(OC);
      gemv(out32.data(), W32.data(), x32.data(), with_bias ? b32.data() : nullptr, OC, C);
      gemv(out.data(), W.data(), x.data(), with_bias ? b.data() : nullptr, OC, C);
      EXPECT_LT(rel_error(out, ref), 1e-12) << OC << "x" << C;
      EXPECT_LT(rel_error_of(out32.data(), ref.data(), OC), 1e-5) << OC << "x" << C << " bias " << with_bias;
    }
    // rows further apart than their length: the first C of rows C + 3 long
    const int ld = C + 3;
    std::vector<float> Wld((size_t)OC * ld, 1e30f), out32(OC);
    for (int o = 0; o < OC; o++) std::copy(W32.begin() + (size_t)o * C, W32.begin() + (size_t)(o + 1) * C, Wld.begin() + (size_t)o * ld);
    std::vector<double> ref(OC, 0.0);
    gemm_naive<double>(false, true, 1, OC, C, 1.0, x.data(), C, W.data(), C, 0.0, ref.data(), OC);
    gemv(out32.data(), Wld.data(), ld, x32.data(), nullptr, OC, C);
    EXPECT_LT(rel_error_of(out32.data(), ref.data(), OC), 1e-5) << OC << "x" << C << " ld " << ld;
  }
}

// The weighted sum of rows (attention's values) against the plain loop: row counts odd and even (the
// kernel pairs rows), widths with and without the 32- and 8-lane blocks and a scalar tail, rows
// further apart than their width; it accumulates into out.
TEST(Gemm, GemvTransposedAccumulatesTheWeightedSumOfRows) {
  std::mt19937 rng(13);
  for (auto [R, C] : {std::pair{1, 1}, {1, 32}, {2, 8}, {3, 5}, {7, 32}, {64, 32}, {63, 40}, {65, 128}, {9, 131}}) {
    const int ld = C + 5;
    auto A = random_vector((size_t)R * ld, rng), w = random_vector(R, rng), init = random_vector(C, rng);
    std::vector<double> ref(init);
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) ref[c] += w[r] * A[(size_t)r * ld + c];
    std::vector<float> A32(A.begin(), A.end()), w32(w.begin(), w.end()), out32(init.begin(), init.end());
    std::vector<double> out(init);
    gemv_t_acc(out32.data(), A32.data(), ld, w32.data(), R, C);
    gemv_t_acc(out.data(), A.data(), ld, w.data(), R, C);
    EXPECT_LT(rel_error(out, ref), 1e-12) << R << "x" << C;
    EXPECT_LT(rel_error_of(out32.data(), ref.data(), C), 1e-5) << R << "x" << C;
  }
}

TEST(Linear, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(2);
  const int N = 7, C = 5, OC = 3;
  auto x = random_vector(N * C, rng), W = random_vector(OC * C, rng), b = random_vector(OC, rng);
  auto g = random_vector(N * OC, rng);
  std::vector<double> out(N * OC);
  auto loss = [&] {
    linear_forward(out.data(), x.data(), W.data(), b.data(), N, C, OC);
    return dot(out, g);
  };
  std::vector<double> dx(N * C, 0.5), dW(OC * C, 0.25), db(OC, -1.0);  // backward must accumulate
  linear_backward(dx.data(), dW.data(), db.data(), g.data(), x.data(), W.data(), N, C, OC);
  for (auto& v : dx) v -= 0.5;
  for (auto& v : dW) v -= 0.25;
  for (auto& v : db) v += 1.0;
  EXPECT_LT(rel_error(dx, numeric_grad(loss, x.data(), x.size())), kGradTol);
  EXPECT_LT(rel_error(dW, numeric_grad(loss, W.data(), W.size())), kGradTol);
  EXPECT_LT(rel_error(db, numeric_grad(loss, b.data(), b.size())), kGradTol);
}

TEST(Embedding, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(3);
  const int B = 2, T = 5, C = 3, V = 4, Tmax = 7;
  std::vector<int32_t> tok = {0, 3, 3, 1, 2, 2, 2, 0, 1, 3};
  auto wte = random_vector(V * C, rng), wpe = random_vector(Tmax * C, rng), g = random_vector(B * T * C, rng);
  std::vector<double> out(B * T * C);
  for (int pos0 : {0, 2}) {
    auto loss = [&] {
      embedding_forward(out.data(), tok.data(), wte.data(), wpe.data(), B, T, C, pos0);
      return dot(out, g);
    };
    std::vector<double> dwte(V * C, 0), dwpe(Tmax * C, 0);
    embedding_backward(dwte.data(), dwpe.data(), g.data(), tok.data(), B, T, C, pos0);
    EXPECT_LT(rel_error(dwte, numeric_grad(loss, wte.data(), wte.size())), kGradTol);
    EXPECT_LT(rel_error(dwpe, numeric_grad(loss, wpe.data(), wpe.size())), kGradTol);
  }
}

TEST(RmsNorm, GradientMatchesFiniteDifferencesWithAndWithoutWeight) {
  std::mt19937 rng(4);
  const int N = 5, C = 7;
  auto x = random_vector(N * C, rng), w = random_vector(C, rng), g = random_vector(N * C, rng);
  std::vector<double> out(N * C), rstd(N);
  for (bool use_w : {true, false}) {
    const double* wp = use_w ? w.data() : nullptr;
    auto loss = [&] {
      rmsnorm_forward(out.data(), rstd.data(), x.data(), wp, N, C);
      return dot(out, g);
    };
    loss();
    std::vector<double> dx(N * C, 0), dw(C, 0);
    rmsnorm_backward(dx.data(), use_w ? dw.data() : nullptr, g.data(), x.data(), wp, rstd.data(), N, C);
    EXPECT_LT(rel_error(dx, numeric_grad(loss, x.data(), x.size())), kGradTol);
    if (use_w) {
      EXPECT_LT(rel_error(dw, numeric_grad(loss, w.data(), w.size())), kGradTol);
    }
  }
}

// The column sums of the bias and norm-weight gradients are split into bands of columns over the
// threads once a product is large (N·C >= 2^15): on 1, 2 and 3 threads, with a ragged last band,
// they equal the plain loops (float: bitwise the same on every thread count) and still accumulate.
// ZeroedBuffer (the incremental state's lazily paged buffers): zero on creation, small (calloc) and
// large (a fresh mapping); what is written stays through a move; fill_zero clears it again.
TEST(ZeroedBuffer, StartsZeroKeepsWritesThroughMovesAndClears) {
  for (size_t n : {size_t(0), size_t(7), size_t(1) << 18, (size_t(3) << 20) + 5}) {
    ZeroedBuffer<float> b(n);
    ASSERT_EQ(b.size(), n);
    size_t nonzero = 0;
    for (float v : b) nonzero += v != 0.0f;
    EXPECT_EQ(nonzero, 0u) << n;
    if (n == 0) continue;
    b.data()[0] = 1.0f;
    b.data()[n - 1] = 2.0f;
    ZeroedBuffer<float> moved(std::move(b));
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(moved.data()[0], 1.0f);
    EXPECT_EQ(moved.data()[n - 1], 2.0f);
    b = std::move(moved);
    EXPECT_EQ(b.data()[n - 1], 2.0f);
    b.fill_zero();
    EXPECT_EQ(b.data()[0], 0.0f);
    EXPECT_EQ(b.data()[n - 1], 0.0f);
  }
}

TEST(Reductions, BiasAndNormWeightGradientsEqualPlainSumsOnAnyThreadCount) {
  const int saved_threads = num_threads();
  std::mt19937 rng(21);
  const int N = 400, C = 150, OC = 130;  // N·C, N·OC >= 2^15; 150 and 130 leave ragged bands of 64
  auto x = random_vector((size_t)N * C, rng), W = random_vector((size_t)OC * C, rng);
  auto g = random_vector((size_t)N * OC, rng), gy = random_vector((size_t)N * C, rng), w = random_vector(C, rng);
  std::vector<double> db_ref(OC, 0.5), dw_ref(C, 0.5), out((size_t)N * C), rstd(N);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) db_ref[o] += g[(size_t)n * OC + o];
  rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++) dw_ref[c] += gy[(size_t)n * C + c] * x[(size_t)n * C + c] * rstd[n];
  std::vector<float> xf(x.begin(), x.end()), Wf(W.begin(), W.end()), gf(g.begin(), g.end());
  std::vector<float> gyf(gy.begin(), gy.end()), wf(w.begin(), w.end()), rstdf(rstd.begin(), rstd.end());
  std::vector<float> db_first, dw_first;
  for (int threads : {1, 2, 3}) {
    set_threads(threads);
    std::vector<double> dx((size_t)N * C, 0), dW((size_t)OC * C, 0), db(OC, 0.5), dxn((size_t)N * C, 0), dw(C, 0.5);
    linear_backward(dx.data(), dW.data(), db.data(), g.data(), x.data(), W.data(), N, C, OC);
    rmsnorm_backward(dxn.data(), dw.data(), gy.data(), x.data(), w.data(), rstd.data(), N, C);
    EXPECT_LT(rel_error(db, db_ref), 1e-12) << threads << " threads";
    EXPECT_LT(rel_error(dw, dw_ref), 1e-12) << threads << " threads";
    std::vector<float> dxf((size_t)N * C, 0), dWf((size_t)OC * C, 0), dbf(OC, 0), dxnf((size_t)N * C, 0), dwf(C, 0);
    linear_backward(dxf.data(), dWf.data(), dbf.data(), gf.data(), xf.data(), Wf.data(), N, C, OC);
    rmsnorm_backward(dxnf.data(), dwf.data(), gyf.data(), xf.data(), wf.data(), rstdf.data(), N, C);
    if (db_first.empty()) {
      db_first = dbf;
      dw_first = dwf;
    }
    EXPECT_EQ(dbf, db_first) << threads << " threads";
    EXPECT_EQ(dwf, dw_first) << threads << " threads";
  }
  // the forward's bias fill, split over rows, on 3 threads
  std::vector<double> y((size_t)N * OC), y_ref((size_t)N * OC, 0.0), b = random_vector(OC, rng);
  linear_forward(y.data(), x.data(), W.data(), b.data(), N, C, OC);
  gemm_naive<double>(false, true, N, OC, C, 1.0, x.data(), C, W.data(), C, 0.0, y_ref.data(), OC);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) y_ref[(size_t)n * OC + o] += b[o];
  EXPECT_LT(rel_error(y, y_ref), 1e-12);
  set_threads(saved_threads);
}

TEST(RmsNorm, NormalizesRows) {
  std::vector<double> x = {3, 4}, out(2), rstd(1);
  rmsnorm_forward<double>(out.data(), rstd.data(), x.data(), nullptr, 1, 2);
  EXPECT_NEAR(out[0] * out[0] + out[1] * out[1], 2.0 * 12.5 / (12.5 + 1e-5), 1e-9);
}

TEST(Gelu, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(5);
  const int n = 11;
  auto x = random_vector(n, rng, 2.0), g = random_vector(n, rng);
  std::vector<double> out(n);
  auto loss = [&] {
    gelu_forward(out.data(), x.data(), n);
    return dot(out, g);
  };
  std::vector<double> dx(n, 0);
  gelu_backward(dx.data(), g.data(), x.data(), n);
  EXPECT_LT(rel_error(dx, numeric_grad(loss, x.data(), x.size())), kGradTol);
  double y0;
  double x0 = 1.0;
  gelu_forward(&y0, &x0, 1);
  EXPECT_NEAR(y0, 0.8411919906082768, 1e-12);  // tanh-GELU(1), as in PyTorch approximate="tanh"
}

TEST(ReluSquared, GradientMatchesFiniteDifferencesAndValues) {
  std::mt19937 rng(15);
  const int n = 13;
  auto x = random_vector(n, rng, 2.0), g = random_vector(n, rng);
  for (auto& v : x)  // keep the finite differences away from the kink at 0
    if (std::fabs(v) < 0.05) v += 0.1;
  std::vector<double> out(n);
  auto loss = [&] {
    relu_squared_forward(out.data(), x.data(), n);
    return dot(out, g);
  };
  std::vector<double> dx(n, 0.25);  // backward accumulates: start from a non-zero gradient
  relu_squared_backward(dx.data(), g.data(), x.data(), n);
  auto num = numeric_grad(loss, x.data(), x.size());
  for (auto& v : num) v += 0.25;
  EXPECT_LT(rel_error(dx, num), kGradTol);
  const double xs[] = {-3.0, -0.0, 0.0, 0.5, 2.0}, want[] = {0.0, 0.0, 0.0, 0.25, 4.0};
  double ys[5];
  relu_squared_forward(ys, xs, 5);
  for (int i = 0; i < 5; i++) EXPECT_EQ(ys[i], want[i]) << "x = " << xs[i];
  // the float kernel (training) and the double one (gradient checks) agree to rounding, also in
  // the parallel branch of a long vector
  const size_t m = size_t(kMinParallelWork) + 77;
  std::vector<float> xf(m), yf(m), df(m, 0.f), gf(m);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (size_t i = 0; i < m; i++) xf[i] = nd(rng), gf[i] = nd(rng);
  relu_squared_forward(yf.data(), xf.data(), m);
  relu_squared_backward(df.data(), gf.data(), xf.data(), m);
  double worst = 0;
  for (size_t i = 0; i < m; i++) {
    const double r = std::max(0.0, double(xf[i]));
    worst = std::max(worst, std::fabs(yf[i] - r * r) / std::max(1.0, r * r));
    worst = std::max(worst, std::fabs(df[i] - 2 * r * gf[i]) / std::max(1.0, std::fabs(2 * r * gf[i])));
  }
  EXPECT_LT(worst, 1e-6);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferencesAndLossIsNll) {
  std::mt19937 rng(6);
  const int N = 5, V = 7;
  auto z = random_vector(N * V, rng);
  std::vector<int32_t> tgt = {0, 6, 3, 3, 1};
  std::vector<double> losses(N), probs(N * V);
  auto loss = [&] { return cross_entropy_forward(losses.data(), probs.data(), z.data(), tgt.data(), N, V) / N; };
  loss();
  std::vector<double> dz(N * V, 0);
  cross_entropy_backward(dz.data(), probs.data(), tgt.data(), 1.0 / N, N, V);
  EXPECT_LT(rel_error(dz, numeric_grad(loss, z.data(), z.size())), kGradTol);
  double lse = 0;
  for (int v = 0; v < V; v++) lse += std::exp(z[v]);
  EXPECT_NEAR(losses[0], std::log(lse) - z[0], 1e-12);
}

#include "ops/fast_math.h"

TEST(FastMath, ExpAndTanhMatchTheLibrary) {
  double worst_exp = 0, worst_tanh = 0;
  for (float x = -80.f; x <= 80.f; x += 0.0137f) {
    worst_exp = std::max(worst_exp, std::fabs(double(fast_expf(x)) - std::exp(double(x))) / std::exp(double(x)));
  }
  for (float x = -12.f; x <= 12.f; x += 0.00091f)
    worst_tanh = std::max(worst_tanh, std::fabs(double(fast_tanhf(x)) - std::tanh(double(x))));
  EXPECT_LT(worst_exp, 5e-7);
  EXPECT_LT(worst_tanh, 5e-7);
}

// Training runs the float kernels (fast exp/tanh inside GELU and cross-entropy); the gradient checks
// run the double ones (libm). The two agree on inputs across the range training meets, including
// large magnitudes where tanh saturates and logits where exp would overflow without the shift.
TEST(FastMath, FloatKernelsMatchTheDoubleOnesTheGradientChecksUse) {
  std::mt19937 rng(21);
  const size_t n = 4096;
  std::vector<double> x(n);
  std::normal_distribution<double> normal;
  for (size_t i = 0; i < n; i++) x[i] = (i % 4 == 0 ? 8.0 : 1.5) * normal(rng);  // a quarter far out
  auto dout = random_vector(n, rng);
  std::vector<float> xf(x.begin(), x.end()), doutf(dout.begin(), dout.end());
  std::vector<double> xd(xf.begin(), xf.end());  // the same float inputs, in double
  std::vector<float> yf(n), dxf(n, 0);
  std::vector<double> yd(n), dxd(n, 0);
  gelu_forward(yf.data(), xf.data(), n);
  gelu_forward(yd.data(), xd.data(), n);
  gelu_backward(dxf.data(), doutf.data(), xf.data(), n);
  gelu_backward(dxd.data(), dout.data(), xd.data(), n);
  EXPECT_LT(rel_error_of(yf.data(), yd.data(), n), 1e-6);
  // the derivative holds x·(1 − tanh²): fast_tanhf's ~3e-7 absolute error times |x| up to ~30 gives
  // 5.7e-6 here (norm-wise), all of it where gelu' is nearly 0 or 1
  EXPECT_LT(rel_error_of(dxf.data(), dxd.data(), n), 2e-5);

  // cross-entropy over rows of logits with spreads from 0.1 to 60
  const int N = 64, V = 65;
  std::vector<double> logits((size_t)N * V);
  std::vector<int32_t> targets(N);
  for (int r = 0; r < N; r++) {
    const double spread = 0.1 * std::pow(600.0, double(r) / (N - 1));
    for (int v = 0; v < V; v++) logits[(size_t)r * V + v] = spread * normal(rng);
    targets[r] = int32_t(rng() % V);
  }
  std::vector<float> lf(logits.begin(), logits.end());
  std::vector<double> ld(lf.begin(), lf.end());
  std::vector<float> lossf(N), probsf((size_t)N * V), dlf((size_t)N * V, 0);
  std::vector<double> lossd(N), probsd((size_t)N * V), dld((size_t)N * V, 0);
  const double sumf = cross_entropy_forward(lossf.data(), probsf.data(), lf.data(), targets.data(), N, V);
  const double sumd = cross_entropy_forward(lossd.data(), probsd.data(), ld.data(), targets.data(), N, V);
  EXPECT_NEAR(sumf, sumd, 1e-6 * std::fabs(sumd));
  EXPECT_LT(rel_error_of(lossf.data(), lossd.data(), N), 1e-6);
  cross_entropy_backward(dlf.data(), probsf.data(), targets.data(), 1.0f / N, N, V);
  cross_entropy_backward(dld.data(), probsd.data(), targets.data(), 1.0 / N, N, V);
  EXPECT_LT(rel_error_of(dlf.data(), dld.data(), dlf.size()), 1e-6);
}

// zero_fill: exactly [0, n) becomes zero, on one thread and split over threads (from 262,144
// elements on), including lengths that are not whole chunks; what lies beyond n is untouched.
TEST(Elementwise, ZeroFillClearsExactlyTheRange) {
  for (int threads : {1, 2, 3}) {
    set_threads(threads);
    for (size_t n : {size_t(0), size_t(1), size_t(65535), size_t(65543), size_t(262144), size_t(3 * 65536 + 262144 + 1)}) {
      std::vector<float> x(n + 16, std::numeric_limits<float>::quiet_NaN());
      zero_fill(x.data(), n);
      size_t zeros = 0;
      for (size_t i = 0; i < n; i++) zeros += x[i] == 0.0f && !std::signbit(x[i]);
      EXPECT_EQ(zeros, n) << "n " << n << ", threads " << threads;
      for (size_t i = n; i < n + 16; i++) EXPECT_TRUE(std::isnan(x[i])) << "n " << n << ": element " << i << " written";
    }
  }
  set_threads(0);
}
