// Exact resume through the binary: a run stopped at step 100 and resumed gives the same
// metrics.jsonl as one uninterrupted run of 200 steps (one thread), and the rules of resuming: the
// config comes from the checkpoint, --set needs --allow-changes (and warns), model keys never
// change, config.json must agree, a changed training text is noticed, a finished run has nothing
// to do, and lines written after the checkpoint are dropped from metrics.jsonl.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "cli_runner.h"
#include "io/checkpoint.h"
#include "train/resume.h"
#include "train_workspace.h"

using namespace spectral;
using namespace spectral::testing;
using nlohmann::json;

namespace {

// Every figure of a metrics line that training determines (not time or speed).
void expect_same_metrics(const std::vector<json>& a, const std::vector<json>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++)
    for (const char* k : {"step", "loss", "val_loss", "lr", "grad_norm", "skipped"})
      EXPECT_EQ(a[i].value(k, json()), b[i].value(k, json())) << "line " << i << " key " << k;
}

}  // namespace

static void expect_exact_resume(const std::string& tag, const std::string& extra) {
  TrainWorkspace ws(tag);
  const std::string steps = "--set train.steps=200 " + extra;
  const std::string one = ws.dir + "/one", two = ws.dir + "/two";
  RunResult r = run_spectral(ws.train(one, steps), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_spectral(ws.train(two, steps + " --stop-at 100"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("train --resume " + two), std::string::npos) << r.err;
  const LoadedCheckpoint half = load_checkpoint(two + "/last.safetensors");
  EXPECT_EQ(half.step, 100);
  EXPECT_EQ(read_jsonl(two + "/metrics.jsonl").back()["step"], 100);
  r = run_spectral(ws.resume(two), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming " + two + " at step 100 of 200"), std::string::npos) << r.err;
  const auto a = read_jsonl(one + "/metrics.jsonl"), b = read_jsonl(two + "/metrics.jsonl");
  EXPECT_EQ(a.size(), 30u);  // 20 training lines, 10 evaluations
  expect_same_metrics(a, b);
  // the checkpoints agree bit for bit in weights and moments, and in the counters
  const LoadedCheckpoint ca = load_checkpoint(one + "/last.safetensors"), cb = load_checkpoint(two + "/last.safetensors");
  EXPECT_EQ(ca.model->params, cb.model->params);
  EXPECT_EQ(ca.m, cb.m);
  EXPECT_EQ(ca.v, cb.v);
  EXPECT_EQ(ca.raw, cb.raw);
  EXPECT_EQ(ca.train_state["ema_updates"], cb.train_state["ema_updates"]);
  EXPECT_EQ(ca.train_state["rng"], cb.train_state["rng"]);
  EXPECT_EQ(ca.train_state["best_val_loss"], cb.train_state["best_val_loss"]);
  EXPECT_EQ(slurp(one + "/config.json"), slurp(two + "/config.json"));
}

TEST(Resume, HundredStepsThenHundredMoreEqualTwoHundredInOneGo) { expect_exact_resume("resume-exact", ""); }

// dropout masks come from (seed, step), not from a generator state: a resumed run draws the same
TEST(Resume, WithDropoutHundredThenHundredMoreEqualTwoHundred) {
  expect_exact_resume("resume-dropout", "--set model.dropout=0.2");
}

// Muon's momentum travels in the optimizer state like AdamW's moments
TEST(Resume, WithMuonHundredThenHundredMoreEqualTwoHundred) {
  expect_exact_resume("resume-muon", "--set train.optimizer=muon");
}

// the weights' average and the raw weights both travel in last.safetensors
TEST(Resume, WithTheWeightsAverageHundredThenHundredMoreEqualTwoHundred) {
  expect_exact_resume("resume-ema", "--set train.ema=0.95");
}

// With train.ema, last.safetensors' weights are the average of the raw weights (optim.raw) after
// each update so far, Σ dⁿ⁻ᵏ(1−d)·θ_k / (1−dⁿ), here collected from checkpoints at steps 1, 2, 3;
// best.safetensors holds the average too; without train.ema there is no optim.raw.
TEST(Resume, TheAverageInTheCheckpointIsTheAverageOfTheRawWeights) {
  TrainWorkspace ws("resume-ema-direct");
  const std::string run = ws.dir + "/run";
  const double d = 0.5;
  RunResult r = run_spectral(ws.train(run, "--set train.ema=0.5 --set train.optimizer=muon --stop-at 1"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("weights' average on (decay 0.5)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("layers.0.mixer.w_in 16x16"), std::string::npos) << r.err;  // Muon's tensors, logged
  std::vector<std::vector<float>> raw;
  for (int step = 1; step <= 3; step++) {
    if (step > 1) {
      r = run_spectral(ws.resume(run, "--stop-at " + std::to_string(step)), ws.dir);
      ASSERT_EQ(r.code, 0) << r.err;
    }
    const LoadedCheckpoint ck = load_checkpoint(run + "/last.safetensors");
    ASSERT_EQ(ck.step, step);
    ASSERT_EQ(ck.raw.size(), ck.model->params.size());
    raw.push_back(ck.raw);
    EXPECT_EQ(ck.train_state["ema_updates"], step);
    const auto& avg = ck.model->params;
    double moved = 0;
    for (size_t i = 0; i < avg.size(); i++) {
      double num = 0;
      for (int k = 1; k <= step; k++) num += std::pow(d, step - k) * (1 - d) * raw[k - 1][i];
      const double want = num / (1 - std::pow(d, step));
      ASSERT_NEAR(avg[i], want, 1e-6 * (1 + std::fabs(want))) << "step " << step << " element " << i;
      moved = std::max(moved, double(std::fabs(avg[i] - ck.raw[i])));
    }
    if (step > 1) {
      EXPECT_GT(moved, 1e-4) << "the average should differ from the raw weights";
    }
  }
  r = run_spectral(ws.resume(run, "--stop-at 20"), ws.dir);  // the first evaluation: best.safetensors
  ASSERT_EQ(r.code, 0) << r.err;
  const LoadedCheckpoint last = load_checkpoint(run + "/last.safetensors"), best = load_checkpoint(run + "/best.safetensors");
  EXPECT_EQ(best.step, 20);
  EXPECT_EQ(best.model->params, last.model->params);
  EXPECT_NE(last.raw, last.model->params);
  // a run without the average has no raw weights beside its weights
  ASSERT_EQ(run_spectral(ws.train(ws.dir + "/plain", "--stop-at 2"), ws.dir).code, 0);
  EXPECT_TRUE(load_checkpoint(ws.dir + "/plain/last.safetensors").raw.empty());
}

// Stopping between two metrics lines: the loss accumulator of the open interval is resumed too.
TEST(Resume, StoppingInsideALoggingIntervalKeepsTheLossMean) {
  TrainWorkspace ws("resume-mid");
  const std::string one = ws.dir + "/one", two = ws.dir + "/two";
  ASSERT_EQ(run_spectral(ws.train(one), ws.dir).code, 0);
  RunResult r = run_spectral(ws.train(two, "--stop-at 13"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_spectral(ws.resume(two, "--stop-at 27"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_spectral(ws.resume(two), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_metrics(read_jsonl(one + "/metrics.jsonl"), read_jsonl(two + "/metrics.jsonl"));
}

TEST(Resume, ConfigComesFromTheCheckpointAndChangesNeedAFlag) {
  TrainWorkspace ws("resume-rules");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--stop-at 20"), ws.dir).code, 0);
  const std::string before = slurp(run + "/last.safetensors");
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : std::vector<Case>{
           {ws.resume(run, "--set train.steps=80"), "add --allow-changes"},
           {ws.resume(run, "--set train.lr=0.02"), "train.lr: 0.01 -> 0.02"},
           {ws.resume(run, "--set model.d_model=32 --allow-changes"), "the model cannot change on resume"},
           {ws.resume(run, "--set train.optimizer=muon --allow-changes"), "the optimizer cannot change on resume"},
           {ws.resume(run, "--set train.steps=10 --allow-changes"), "below the checkpoint's step 20"},
           {ws.resume(run, "--set train.stepz=10 --allow-changes"), "train.stepz: unknown key"},
           {ws.resume(run, "--stop-at 20"), "already at step 20"},
           {ws.resume(ws.dir + "/nowhere"), "nowhere/last.safetensors does not exist"},
           {"train --resume " + run + " --config " + ws.config, "excludes"},
           {"train --config " + ws.config + " --allow-changes", "requires --resume"},
       }) {
    RunResult r = run_spectral(c.args, ws.dir);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\nstderr: " << r.err;
  }
  EXPECT_EQ(slurp(run + "/last.safetensors"), before) << "a refused resume touched the checkpoint";

  // config.json edited by hand disagrees with the checkpoint: refused, naming the key
  const std::string config_json = slurp(run + "/config.json");
  json edited = json::parse(config_json);
  edited["train"]["lr"] = 0.5;
  spit(run + "/config.json", edited.dump(2));
  RunResult r = run_spectral(ws.resume(run), ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config.json disagrees with " + run + "/last.safetensors at train.lr: 0.01 -> 0.5"), std::string::npos)
      << r.err;
  spit(run + "/config.json", config_json);

  // with the flag: warned, applied, and the new schedule length is the run's from now on
  r = run_spectral(ws.resume(run, "--set train.steps=60 --allow-changes"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("changing train.steps: 40 -> 60"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("learning-rate schedule changes"), std::string::npos) << r.err;
  EXPECT_EQ(load_checkpoint(run + "/last.safetensors").config.train.steps, 60);
  EXPECT_EQ(json::parse(slurp(run + "/config.json"))["train"]["steps"], 60);
  EXPECT_EQ(read_jsonl(run + "/metrics.jsonl").back()["step"], 60);

  // a finished run: nothing to do, nothing touched
  const std::string done = slurp(run + "/last.safetensors");
  r = run_spectral(ws.resume(run), ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("is complete (60 of 60 steps)"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(run + "/last.safetensors"), done);
}

TEST(Resume, ChangedTrainingTextIsNoticed) {
  TrainWorkspace ws("resume-data");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--stop-at 20"), ws.dir).code, 0);
  spit(ws.text, generated_text(6000, 2));  // same characters, other text
  RunResult r = run_spectral(ws.resume(run), ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("changed since the checkpoint"), std::string::npos) << r.err;
  r = run_spectral(ws.resume(run, "--allow-changes"), ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("changed since the checkpoint"), std::string::npos) << r.err;
  // other characters: the embedding cannot take them, flag or not
  ASSERT_EQ(run_spectral(ws.train(run, "--stop-at 20 --overwrite"), ws.dir).code, 0);
  spit(ws.text, generated_text(6000) + "XYZ");
  r = run_spectral(ws.resume(run, "--allow-changes"), ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("other characters"), std::string::npos) << r.err;
}

TEST(Resume, WeightsOnlyCheckpointCannotBeResumed) {
  TrainWorkspace ws("resume-best");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--stop-at 20"), ws.dir).code, 0);
  std::filesystem::copy_file(run + "/best.safetensors", run + "/last.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  RunResult r = run_spectral(ws.resume(run), ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("has no optimizer state"), std::string::npos) << r.err;
}

TEST(Resume, MetricsLinesAfterTheCheckpointAreDropped) {
  const std::string dir = temp_dir("trim");
  const std::string path = dir + "/metrics.jsonl";
  spit(path, "{\"step\":10,\"loss\":2}\n{\"step\":20,\"val_loss\":1.5}\n{\"step\":30,\"loss\":1}\n{\"step\":40,\"lo");
  EXPECT_EQ(trim_metrics(path, 20), 2u);
  EXPECT_EQ(slurp(path), "{\"step\":10,\"loss\":2}\n{\"step\":20,\"val_loss\":1.5}\n");
  EXPECT_EQ(trim_metrics(path, 20), 0u);
  EXPECT_EQ(trim_metrics(dir + "/missing.jsonl", 5), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir + "/missing.jsonl"));
}
