// Replicas (train/replicas): a batch split over R model copies, one thread each, gives the loss and
// the gradient one model computes on all the rows (up to the order of float sums), for every mixer
// in a hybrid stack and with dropout (each replica draws the masks of its own rows); the copies
// follow the first one's weights after sync_weights; and through the binary, training with
// train.replicas = 2 is the run with one model, step by step.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cli_runner.h"
#include "model_checks.h"
#include "train/replicas.h"
#include "train_workspace.h"
#include "util/threads.h"

using namespace spectral;
using namespace spectral::testing;

namespace {

// Largest |a − b| over the largest |a|: the gradients agree as vectors.
double vector_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); i++) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(a[i])));
  }
  return diff / std::max(scale, 1e-30);
}

struct Batch {
  std::vector<int32_t> x, y;
};

Batch random_batch(int B, int T, int V, std::mt19937& rng) {
  return {random_tokens(size_t(B) * T, V, rng), random_tokens(size_t(B) * T, V, rng)};
}

}  // namespace

TEST(Replicas, LossAndGradientEqualOneModelOnAllRows) {
  set_threads(4);
  const int V = 13, B = 8, T = 16;
  ModelConfig cfg = tiny_model_config({"fft", "rot", "attention", "local"}, 16, 2, T);
  for (double p : {0.0, 0.2}) {
    for (int R : {2, 4, 8}) {
      std::mt19937 rng(7 + R);
      const Batch b = random_batch(B, T, V, rng);
      DropoutDraw drop = dropout_for_step(p, 5, 3);
      Model<float> one(cfg, V);
      one.init(11);
      const double loss_one = one.forward(b.x.data(), b.y.data(), B, T, drop);
      one.zero_grad();
      one.backward();

      Model<float> main(cfg, V);
      main.init(11);
      ReplicaSet set(main, R);
      ASSERT_EQ(set.size(), R);
      const double loss = set.forward_backward(b.x.data(), b.y.data(), B, T, drop);
      EXPECT_NEAR(loss, loss_one, 1e-5 * std::fabs(loss_one)) << "R=" << R << " dropout " << p;
      EXPECT_LE(vector_rel_diff(one.grads, main.grads), 2e-5) << "R=" << R << " dropout " << p;
    }
  }
  set_threads(0);
}

// Rows 8.. of a batch of 16, split over 2 replicas: each replica's masks are those of its rows in
// the whole batch (as a process that trains rows 8.. of it).
TEST(Replicas, DropoutMasksFollowTheRowsOfTheWholeBatch) {
  set_threads(2);
  const int V = 11, T = 8;
  ModelConfig cfg = tiny_model_config({"rot", "fft"}, 8, 2, T);
  std::mt19937 rng(3);
  const Batch b = random_batch(8, T, V, rng);
  const DropoutDraw drop = dropout_for_step(0.3, 9, 1, 8);
  Model<float> one(cfg, V);
  one.init(2);
  const double loss_one = one.forward(b.x.data(), b.y.data(), 8, T, drop);
  one.zero_grad();
  one.backward();
  Model<float> main(cfg, V);
  main.init(2);
  ReplicaSet set(main, 2);
  EXPECT_NEAR(set.forward_backward(b.x.data(), b.y.data(), 8, T, drop), loss_one, 1e-5 * std::fabs(loss_one));
  EXPECT_LE(vector_rel_diff(one.grads, main.grads), 2e-5);
  set_threads(0);
}

TEST(Replicas, CopiesFollowTheWeightsAfterSync) {
  set_threads(2);
  const int V = 11, B = 4, T = 8;
  ModelConfig cfg = tiny_model_config({"rot", "attention"}, 8, 2, T);
  std::mt19937 rng(5);
  const Batch b = random_batch(B, T, V, rng);
  Model<float> main(cfg, V);
  main.init(4);
  ReplicaSet set(main, 2);
  for (auto& w : main.params) w *= 1.5f;  // as an update would
  set.sync_weights();
  const double loss = set.forward_backward(b.x.data(), b.y.data(), B, T, {});
  Model<float> one(cfg, V);
  one.params = main.params;
  const double loss_one = one.forward(b.x.data(), b.y.data(), B, T, {});
  one.zero_grad();
  one.backward();
  EXPECT_NEAR(loss, loss_one, 1e-5 * std::fabs(loss_one));
  EXPECT_LE(vector_rel_diff(one.grads, main.grads), 2e-5);
  set_threads(0);
}

// train.replicas = 0: one per thread, as many threads as divide the rows.
TEST(Replicas, OnePerThreadWhereTheRowsDivide) {
  EXPECT_EQ(replicas_for(3, 16, 2), 3);  // as configured
  EXPECT_EQ(replicas_for(0, 16, 2), 2);
  EXPECT_EQ(replicas_for(0, 16, 3), 2);
  EXPECT_EQ(replicas_for(0, 15, 4), 3);
  EXPECT_EQ(replicas_for(0, 7, 2), 1);
  EXPECT_EQ(replicas_for(0, 1, 8), 1);
  EXPECT_EQ(replicas_for(0, 64, 16), 16);
}

TEST(Replicas, RowsThatDoNotDivideAreRefused) {
  ModelConfig cfg = tiny_model_config({"rot"}, 8, 2, 8);
  Model<float> main(cfg, 11);
  main.init(1);
  ReplicaSet set(main, 3);
  std::vector<int32_t> x(4 * 8, 1), y(4 * 8, 2);
  EXPECT_THROW(set.forward_backward(x.data(), y.data(), 4, 8, {}), std::invalid_argument);
  EXPECT_THROW(ReplicaSet(main, 0), std::invalid_argument);
}

// Through the binary: the same run with 2 replicas (2 threads) and with one model (1 thread),
// dropout on, every logged loss, gradient norm and validation loss alike; a batch the replicas do
// not divide is a config error (exit 2) that names the key.
TEST(Replicas, TrainingWithTwoReplicasIsTrainingWithOneModel) {
  TrainWorkspace ws("replicas");
  const std::string sets = "--set train.batch_size=8 --set train.steps=30 --set model.dropout=0.1 ";
  RunResult r = run_spectral(ws.train(ws.dir + "/one", sets), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string two = ws.train(ws.dir + "/two", sets + "--set train.replicas=2");
  two.replace(two.find("--threads 1"), 11, "--threads 2");
  r = run_spectral(two, ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 replicas x 4 sequences"), std::string::npos) << r.err;
  const auto a = read_jsonl(ws.dir + "/one/metrics.jsonl"), b = read_jsonl(ws.dir + "/two/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 3u);
  for (size_t i = 0; i < a.size(); i++)
    for (const char* k : {"loss", "val_loss", "grad_norm"})
      if (a[i].contains(k) && !a[i][k].is_null()) {
        const double x = a[i][k].get<double>(), y = b[i][k].get<double>();
        EXPECT_LE(std::fabs(x - y), 1e-4 * std::fabs(x)) << k << " at line " << i;
      }
  r = run_spectral(ws.train(ws.dir + "/three", sets + "--set train.replicas=3"), ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("train.replicas"), std::string::npos) << r.err;
  // 0: one per thread
  std::string autos = ws.train(ws.dir + "/auto", sets + "--set train.replicas=0");
  autos.replace(autos.find("--threads 1"), 11, "--threads 2");
  r = run_spectral(autos, ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 replicas x 4 sequences"), std::string::npos) << r.err;
  r = run_spectral(ws.train(ws.dir + "/neg", sets + "--set train.replicas=-1"), ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("train.replicas"), std::string::npos) << r.err;
}
