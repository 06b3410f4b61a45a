// Numerical faults through the binary: a learning rate far too high (1e4) makes the gradient
// non-finite within a few steps. By default the run stops with exit 3 and a message naming the step,
// and the last good checkpoint stays; with train.on_nonfinite = "skip" the step is skipped with a
// warning and counted in metrics.jsonl, until train.skip_limit skips in a row stop the run.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_runner.h"
#include "io/checkpoint.h"
#include "train_workspace.h"

using namespace spectral;
using namespace spectral::testing;
using nlohmann::json;

namespace {
const std::string kTooHigh = "--set train.lr=1e4 --set train.warmup_steps=0";
}

TEST(NonFinite, LearningRateFarTooHighStopsWithExit3NamingTheStep) {
  TrainWorkspace ws("nan-stop");
  const std::string run = ws.dir + "/run";
  RunResult r = run_spectral(ws.train(run, kTooHigh), ws.dir);
  EXPECT_EQ(r.code, 3) << r.err;
  const size_t at = r.err.find("error: step ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
  EXPECT_TRUE(line.find("is nan") != std::string::npos || line.find("is inf") != std::string::npos) << line;
  EXPECT_NE(line.find("stopped (no checkpoint was written yet"), std::string::npos) << line;
  EXPECT_NE(line.find("train.on_nonfinite"), std::string::npos) << line;
  EXPECT_TRUE(r.out.empty());
}

TEST(NonFinite, LastGoodCheckpointStays) {
  TrainWorkspace ws("nan-keep");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--stop-at 20"), ws.dir).code, 0);
  const LoadedCheckpoint good = load_checkpoint(run + "/last.safetensors");
  const std::string best = slurp(run + "/best.safetensors");
  RunResult r = run_spectral(ws.resume(run, "--allow-changes " + kTooHigh), ws.dir);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("last good checkpoint: " + run + "/last.safetensors at step 20"), std::string::npos) << r.err;
  const LoadedCheckpoint after = load_checkpoint(run + "/last.safetensors");
  EXPECT_EQ(after.step, 20);
  EXPECT_EQ(after.model->params, good.model->params);
  EXPECT_EQ(after.m, good.m);
  EXPECT_EQ(slurp(run + "/best.safetensors"), best);
  for (float p : after.model->params) ASSERT_TRUE(std::isfinite(p));
}

TEST(NonFinite, SkipModeSkipsWarnsAndCounts) {
  TrainWorkspace ws("nan-skip");
  const std::string run = ws.dir + "/run";
  RunResult r = run_spectral(ws.train(run, kTooHigh + " --set train.on_nonfinite=skip --set train.skip_limit=0"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("step skipped (no update"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("steps skipped"), std::string::npos) << r.err;
  int skipped = 0, last_step = 0;
  for (const auto& row : read_jsonl(run + "/metrics.jsonl"))
    if (row.contains("skipped")) {
      EXPECT_GE(row["skipped"].get<int>(), skipped);
      skipped = row["skipped"];
      last_step = row["step"];
    }
  EXPECT_EQ(last_step, 40);
  EXPECT_GT(skipped, 0);
  EXPECT_LT(skipped, 40);  // the first step was a real update
  // by default, skip mode gives up after train.skip_limit skipped steps in a row
  r = run_spectral(ws.train(ws.dir + "/limited", kTooHigh + " --set train.on_nonfinite=skip"), ws.dir);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("stopped after 10 skipped steps in a row (train.skip_limit"), std::string::npos) << r.err;
}
