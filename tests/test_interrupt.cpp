// Interruption through the binary: SIGINT / SIGTERM finish the step, write last.safetensors and
// exit 130 / 143 within 5 s, and the run resumes from there; SIGKILL at random moments of a run
// that checkpoints at every step always leaves checkpoints that load (never a torn file); a disk
// that refuses the checkpoint (file-size limit, or a directory where the temp file goes) stops the
// run with exit 2 and the previous checkpoint intact.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "cli_runner.h"
#include "io/checkpoint.h"
#include "train/resume.h"
#include "train_workspace.h"

using namespace spectral;
using namespace spectral::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Waits until metrics.jsonl has a training line past `step` (the child is training); false on timeout.
bool wait_for_step_beyond(const std::string& metrics, int step, double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
    for (const auto& row : read_jsonl(metrics))
      if (row.contains("loss") && row["step"].get<int>() > step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Training-line steps strictly increase: nothing repeated, nothing out of order.
void expect_increasing_train_steps(const std::string& metrics) {
  int prev = 0;
  for (const auto& row : read_jsonl(metrics)) {
    if (!row.contains("loss")) continue;
    EXPECT_GT(row["step"].get<int>(), prev) << metrics;
    prev = row["step"].get<int>();
  }
}

}  // namespace

TEST(Interrupt, SigintAndSigtermStopWithACheckpointThatResumes) {
  TrainWorkspace ws("signal");
  const std::string run = ws.dir + "/run", metrics = run + "/metrics.jsonl";
  // long enough to be interrupted: 100000 steps, evaluations rare
  Child c = spawn_spectral(ws.train(run, "--set train.steps=100000 --set train.eval_interval=5000"), ws.dir);
  ASSERT_TRUE(wait_for_step_beyond(metrics, 0, 60)) << slurp(c.err_path);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(c.pid, SIGINT);
  // the stop comes after the step in progress; wait_child fails the test after 30 s (a hang), and
  // nothing asserts a shorter time, which load (ctest -j2, ASan) could break
  double waited = 0;
  int status = wait_child(c, 30, &waited);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << slurp(c.err_path);
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(c.err_path);
  EXPECT_NE(slurp(c.err_path).find("train --resume " + run), std::string::npos) << slurp(c.err_path);
  const LoadedCheckpoint first = load_checkpoint(run + "/last.safetensors");
  ASSERT_GT(first.step, 0);
  EXPECT_NO_THROW(read_train_state(first, "first"));

  // resumed, it carries on from that step; SIGTERM stops it the same way
  c = spawn_spectral(ws.resume(run), ws.dir);
  ASSERT_TRUE(wait_for_step_beyond(metrics, first.step + 10, 60)) << slurp(c.err_path);
  ::kill(c.pid, SIGTERM);
  status = wait_child(c, 30, &waited);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << slurp(c.err_path);
  EXPECT_EQ(WEXITSTATUS(status), 143) << slurp(c.err_path);
  EXPECT_NE(slurp(c.err_path).find("resuming " + run + " at step " + std::to_string(first.step)), std::string::npos)
      << slurp(c.err_path);
  const int second = load_checkpoint(run + "/last.safetensors").step;
  EXPECT_GT(second, first.step + 10);
  expect_increasing_train_steps(metrics);

  // and it finishes (a shorter schedule, so that the test ends)
  const int end = second + 15;
  RunResult r = run_spectral(ws.resume(run, "--allow-changes --set train.steps=" + std::to_string(end)), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(load_checkpoint(run + "/last.safetensors").step, end);
  EXPECT_EQ(read_jsonl(metrics).back()["step"], end);
  expect_increasing_train_steps(metrics);
}

// A run that writes last.safetensors (and often best.safetensors) at every step, killed with
// SIGKILL at random moments and resumed from whatever is left, again and again.
TEST(Interrupt, SigkillAtRandomMomentsAlwaysLeavesLoadableCheckpoints) {
  TrainWorkspace ws("sigkill");
  const std::string run = ws.dir + "/run", metrics = run + "/metrics.jsonl";
  const std::string every_step = "--set train.steps=100000 --set train.eval_interval=1 --set train.eval_batches=1 "
                                 "--set train.log_interval=1";
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> delay_ms(20, 500);
  int kills = 0, with_checkpoint = 0, mid_write = 0, last_step = 0;
  for (int i = 0; i < 25; i++) {
    const bool resume = fs::exists(run + "/last.safetensors");
    Child c = spawn_spectral(resume ? ws.resume(run) : ws.train(run, every_step), ws.dir);
    if (!resume)  // the first run: let it write a checkpoint, so that every kill has one to break
      for (int t = 0; t < 3000 && !fs::exists(run + "/last.safetensors"); t++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(c.pid, SIGKILL);
    const int status = wait_child(c, 30);
    ASSERT_TRUE(WIFSIGNALED(status) || WIFEXITED(status)) << status;
    if (WIFEXITED(status)) ADD_FAILURE() << "the run ended by itself: " << slurp(c.err_path);
    kills++;
    // whatever is left: every .safetensors loads; temp files are the only other debris
    bool temp_left = false;
    for (const auto& e : fs::directory_iterator(run)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() == ".safetensors") {
        SCOPED_TRACE("kill " + std::to_string(i) + ": " + name);
        try {
          LoadedCheckpoint ck = load_checkpoint(e.path().string());
          if (name == "last.safetensors") {
            EXPECT_NO_THROW(read_train_state(ck, name));
            EXPECT_GE(ck.step, last_step) << "the checkpoint went back in time";
            last_step = ck.step;
            with_checkpoint++;
          }
        } catch (const std::exception& ex) {
          ADD_FAILURE() << "kill " << i << " left " << name << " unloadable: " << ex.what();
        }
      } else {
        EXPECT_TRUE(name == "config.json" || name == "metrics.jsonl" || e.path().extension() == ".tmp") << name;
        temp_left |= e.path().extension() == ".tmp";
      }
    }
    mid_write += temp_left;
  }
  // how often the kill fell inside a checkpoint write (a temp file left behind): for the record only,
  // it depends on timing; SigkillAtEachStageOfACheckpointWrite... makes that case certain
  std::printf("SIGKILL: %d kills, %d found last.safetensors, %d fell inside a write, last step %d\n", kills,
              with_checkpoint, mid_write, last_step);
  EXPECT_EQ(kills, 25);
  EXPECT_EQ(with_checkpoint, 25) << "a kill left no last.safetensors";
  EXPECT_GT(last_step, 0);
  // the survivor resumes and finishes; metrics.jsonl has no repeated or torn lines
  const int end = last_step + 5;
  RunResult r = run_spectral(ws.resume(run, "--allow-changes --set train.steps=" + std::to_string(end)), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(load_checkpoint(run + "/last.safetensors").step, end);
  expect_increasing_train_steps(metrics);
  std::istringstream lines(slurp(metrics));
  std::string line;
  while (std::getline(lines, line)) EXPECT_NO_THROW(json::parse(line)) << line;
}

// The kill inside a checkpoint write, made certain: the process kills itself (SIGKILL) when its
// fourth checkpoint write reaches each stage of the atomic write in turn (SPECTRAL_TEST_KILL_AT,
// io/safetensors.cpp), after earlier writes left a last.safetensors. Before the rename the temp file
// is left torn or unrenamed and the previous checkpoint loads; after it the new one does. Either way
// the run resumes and finishes.
TEST(Interrupt, SigkillAtEachStageOfACheckpointWriteLeavesALoadableCheckpoint) {
  const std::string every_step = "--set train.steps=100000 --set train.eval_interval=1 --set train.eval_batches=1 "
                                 "--set train.log_interval=1";
  for (const std::string stage : {"open", "write", "fsync", "rename"}) {
    SCOPED_TRACE(stage);
    TrainWorkspace ws("killat-" + stage);
    const std::string run = ws.dir + "/run";
    ::setenv("SPECTRAL_TEST_KILL_AT", (stage + ":4").c_str(), 1);
    Child c = spawn_spectral(ws.train(run, every_step), ws.dir);
    const int status = wait_child(c, 60);
    ::unsetenv("SPECTRAL_TEST_KILL_AT");
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status << "\n" << slurp(c.err_path);
    int temps = 0;
    for (const auto& e : fs::directory_iterator(run)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() == ".tmp") {
        temps++;
      } else if (e.path().extension() == ".safetensors") {
        try {
          LoadedCheckpoint ck = load_checkpoint(e.path().string());
          if (name == "last.safetensors") {
            EXPECT_NO_THROW(read_train_state(ck, name));
          }
        } catch (const std::exception& ex) {
          ADD_FAILURE() << name << " unloadable: " << ex.what();
        }
      }
    }
    // the kill fell inside the write: before the rename its temp file is still there
    EXPECT_EQ(temps, stage == "rename" ? 0 : 1);
    ASSERT_TRUE(fs::exists(run + "/last.safetensors"));
    const int step = load_checkpoint(run + "/last.safetensors").step;
    EXPECT_GE(step, 1);
    RunResult r = run_spectral(ws.resume(run, "--allow-changes --set train.steps=" + std::to_string(step + 3)), ws.dir);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(load_checkpoint(run + "/last.safetensors").step, step + 3);
  }
}

TEST(Interrupt, DiskRefusingTheCheckpointKeepsThePreviousOne) {
  TrainWorkspace ws("diskfull");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--stop-at 20"), ws.dir).code, 0);
  const std::string good = slurp(run + "/last.safetensors"), best = slurp(run + "/best.safetensors");
  ASSERT_GT(good.size(), 40000u);

  // files may not grow past 16 KiB: the next checkpoint (best: about 25 KiB, last: about 75 KiB)
  // fails midway
  Child c = spawn_spectral(ws.resume(run), ws.dir, 16 * 1024);
  int status = wait_child(c, 60);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 2);
  std::string err = slurp(c.err_path);
  EXPECT_NE(err.find("File too large"), std::string::npos) << err;
  EXPECT_NE(err.find("previous file, if any, is unchanged"), std::string::npos) << err;
  EXPECT_EQ(slurp(run + "/last.safetensors"), good);
  EXPECT_EQ(slurp(run + "/best.safetensors"), best);
  EXPECT_FALSE(fs::exists(run + "/last.safetensors.tmp"));
  EXPECT_FALSE(fs::exists(run + "/best.safetensors.tmp"));

  // the temp file's name taken by a directory: the write fails before touching anything
  fs::create_directories(run + "/last.safetensors.tmp");
  RunResult r = run_spectral(ws.resume(run), ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("last.safetensors.tmp"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(run + "/last.safetensors"), good);
  fs::remove(run + "/last.safetensors.tmp");

  // and the run still resumes from it
  r = run_spectral(ws.resume(run), ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(load_checkpoint(run + "/last.safetensors").step, 40);
}
