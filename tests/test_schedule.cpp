// The learning-rate schedule: linear warmup then cosine to min_lr, over train.steps (default) or,
// with train.schedule = "time", over the wall-time budget train.time_limit_s — so that a run cut by
// its time limit still ends annealed. Checked on the function and through the binary.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_runner.h"
#include "config/config.h"
#include "model/mixer_registry.h"
#include "train/adamw.h"
#include "train_workspace.h"

using namespace spectral;
using namespace spectral::testing;

namespace {
TrainConfig schedule_config(const std::string& schedule) {
  TrainConfig t = default_config().train;
  t.lr = 1e-2;
  t.min_lr = 1e-3;
  t.warmup_steps = 10;
  t.steps = 110;
  t.schedule = schedule;
  t.time_limit_s = 200;
  return t;
}
}  // namespace

TEST(Schedule, StepsWarmupThenCosineToMinLr) {
  const TrainConfig t = schedule_config("steps");
  EXPECT_DOUBLE_EQ(learning_rate(t, 0), 1e-3);     // (0 + 1) / 10 of the peak
  EXPECT_DOUBLE_EQ(learning_rate(t, 9), 1e-2);     // end of warmup
  EXPECT_DOUBLE_EQ(learning_rate(t, 10), 1e-2);    // cosine starts at the peak
  EXPECT_NEAR(learning_rate(t, 60), 5.5e-3, 1e-12);  // half way: the mean of lr and min_lr
  EXPECT_DOUBLE_EQ(learning_rate(t, 110), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(t, 500), 1e-3);
  // elapsed time does not matter to a step schedule
  EXPECT_DOUBLE_EQ(learning_rate(t, 60, 1e6), learning_rate(t, 60, 0));
}

TEST(Schedule, TimeCosineFollowsTheFractionOfTheBudget) {
  const TrainConfig t = schedule_config("time");
  EXPECT_DOUBLE_EQ(learning_rate(t, 50, 0), 1e-2);
  EXPECT_NEAR(learning_rate(t, 50, 100), 5.5e-3, 1e-12);  // half the budget
  EXPECT_NEAR(learning_rate(t, 50, 200), 1e-3, 1e-12);
  EXPECT_NEAR(learning_rate(t, 50, 1000), 1e-3, 1e-12);   // past the budget: stays at min_lr
  // the step count does not matter after warmup
  EXPECT_DOUBLE_EQ(learning_rate(t, 20, 50), learning_rate(t, 100000, 50));
  // warmup still counts steps and scales the rate
  EXPECT_NEAR(learning_rate(t, 4, 100), 0.5 * 5.5e-3, 1e-12);
  // monotone in time after warmup
  double prev = INFINITY;
  for (double s = 0; s <= 200; s += 5) {
    const double lr = learning_rate(t, 50, s);
    EXPECT_LE(lr, prev);
    prev = lr;
  }
}

TEST(Schedule, TimeNeedsATimeLimitAndOnlyTwoNamesExist) {
  nlohmann::json j = {{"train", {{"schedule", "time"}}}};
  try {
    load_config_json(j);
    FAIL() << "schedule = time without a time limit was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("train.time_limit_s"), std::string::npos) << e.what();
  }
  j = {{"train", {{"schedule", "minutes"}}}};
  try {
    load_config_json(j);
    FAIL() << "schedule = minutes was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("train.schedule"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("minutes"), std::string::npos) << e.what();
  }
  j = {{"train", {{"schedule", "time"}, {"time_limit_s", 60}}}};
  EXPECT_EQ(load_config_json(j).train.schedule, "time");
}

// A time-scheduled run with far more steps than it can take follows the clock: every logged step's
// rate is the schedule's at a moment between the end of the previous step and the end of its own
// (the rate is taken at the step's start; both ends are logged, every step), and the run stops at
// the first step that ends past its budget. Nothing here depends on how fast the machine is: a
// slow step widens its bracket, it does not move the rate out of it.
TEST(Schedule, TimeScheduledRunFollowsTheClockAndStopsAtItsBudget) {
  TrainWorkspace ws("schedule-time");
  const std::string run = ws.dir + "/run";
  RunResult r = run_spectral(ws.train(run, "--set train.schedule=time --set train.time_limit_s=3 --set train.steps=10000000 "
                                           "--set train.eval_interval=1000000 --set train.lr=0.01 --set train.min_lr=0.001 "
                                           "--set train.log_interval=1"),
                             ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("time limit of 3s reached"), std::string::npos) << r.err;
  const TrainConfig t = load_config_json(read_json_file(run + "/config.json")).train;
  double prev_end = 0;
  int prev_step = 0, lines = 0;
  for (const auto& line : read_jsonl(run + "/metrics.jsonl")) {
    if (!line.contains("lr")) continue;
    const int step = line["step"];  // steps done: this row's step ran as 0-based step - 1
    const double lr = line["lr"], end = line["elapsed_s"];
    ASSERT_EQ(step, prev_step + 1) << line.dump();
    EXPECT_LT(prev_end, t.time_limit_s) << "a step started after the budget: " << line.dump();
    // the cosine falls with time: the rate at the step's end bounds it below, at its start above
    EXPECT_GE(lr, learning_rate(t, step - 1, end) * (1 - 1e-12)) << line.dump();
    EXPECT_LE(lr, learning_rate(t, step - 1, prev_end) * (1 + 1e-12)) << line.dump();
    prev_end = end;
    prev_step = step;
    lines++;
  }
  ASSERT_GT(lines, 1);
  EXPECT_GE(prev_end, t.time_limit_s);  // it stopped because the budget was spent
  EXPECT_GE(learning_rate(t, prev_step, prev_end), t.min_lr);
  EXPECT_LE(learning_rate(t, prev_step, prev_end), t.min_lr * (1 + 1e-12));  // annealed at the budget
}
