// Data-parallel training through mpirun (2 processes on this machine, over shared memory): the
// same model as one process at the same global batch, checkpoints that plain commands load,
// resume with another number of processes, signals, a dead process, and a batch that does not
// divide. Every run is tiny (d_model 16, 2 layers, context 32) so the whole file takes seconds.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "cli_runner.h"
#include "io/checkpoint.h"
#include "train_workspace.h"

using namespace spectral;
using namespace spectral::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// mpirun of the binary with n processes (root allowed: CI runs as root). Under AddressSanitizer the
// processes do not check for leaks: Open MPI's plugins keep allocations past MPI_Finalize and are
// unloaded by then, so LeakSanitizer can neither attribute nor suppress them (every other test
// checks this code for leaks without MPI). Each test process gives Open MPI its own session
// directory (TMPDIR): tests run in parallel, and two mpiruns creating the shared default
// /tmp/ompi.<host>.<uid> at the same moment can fail with "File exists".
struct MpiSessionDir {
  std::string path = temp_dir("mpi");
  ~MpiSessionDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string mpirun(int n) {
  static const MpiSessionDir session;
  return "env TMPDIR=" + session.path + " ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" " +
         std::string(SPECTRAL_MPIEXEC) + " --allow-run-as-root --oversubscribe --bind-to none -np " +
         std::to_string(n) + " ";
}

// `spectral <args>` under mpirun with n processes, captured like run_spectral.
RunResult run_mpi(int n, const std::string& args, const std::string& dir) {
  return run_captured(mpirun(n) + SPECTRAL_BINARY + " " + args, dir);
}

// A global batch of 16 with dropout, so that the split rows and their masks are exercised.
const char* kSets = "--set train.batch_size=16 --set train.steps=50 --set train.eval_interval=25 --set model.dropout=0.1 ";

double rel(double a, double b) { return std::fabs(a - b) / std::max(1e-12, std::max(std::fabs(a), std::fabs(b))); }

// Every training loss, gradient norm and validation loss agree to tol (relative), step by step.
void expect_same_metrics(const std::string& a_path, const std::string& b_path, double tol) {
  const auto a = read_jsonl(a_path), b = read_jsonl(b_path);
  ASSERT_EQ(a.size(), b.size()) << a_path << " vs " << b_path;
  for (size_t i = 0; i < a.size(); i++) {
    ASSERT_EQ(a[i]["step"], b[i]["step"]);
    for (const char* k : {"loss", "val_loss", "grad_norm"}) {
      if (a[i].contains(k) && !a[i][k].is_null()) {
        EXPECT_LE(rel(a[i][k].get<double>(), b[i][k].get<double>()), tol) << k << " at step " << a[i]["step"];
      }
    }
  }
}

// Norm-wise relative difference of two checkpoints' weights, each tensor.
void expect_same_weights(const std::string& a_path, const std::string& b_path, double tol) {
  const LoadedCheckpoint a = load_checkpoint(a_path), b = load_checkpoint(b_path);
  ASSERT_EQ(a.step, b.step);
  const auto& pa = a.model->params;
  const auto& pb = b.model->params;
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& s : a.model->layout().specs()) {
    double diff = 0, norm = 0;
    for (size_t i = s.offset; i < s.offset + s.size; i++) {
      diff += double(pa[i] - pb[i]) * (pa[i] - pb[i]);
      norm += double(pa[i]) * pa[i];
    }
    EXPECT_LE(std::sqrt(diff / std::max(norm, 1e-30)), tol) << s.name;
  }
}

bool wait_for_file(const std::string& path, double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// A child of mpirun running spectral (one of the ranks), or -1.
pid_t a_rank_of(pid_t mpirun_pid) {
  const std::string list = "/tmp/spectral-ranks-" + std::to_string(::getpid());
  const std::string cmd = "pgrep -P " + std::to_string(mpirun_pid) + " spectral > " + list;
  if (std::system(cmd.c_str()) != 0) return -1;
  const std::string pids = slurp(list);
  fs::remove(list);
  return pids.empty() ? -1 : pid_t(std::stol(pids));
}

// mpirun in the background (for signals), its stderr in dir.
Child spawn_mpi(int n, const std::string& args, const std::string& dir) {
  static int counter = 0;
  Child c;
  const std::string tag = std::to_string(counter++);
  c.out_path = dir + "/mpichild" + tag + ".out";
  c.err_path = dir + "/mpichild" + tag + ".err";
  const std::string cmd = "exec " + mpirun(n) + SPECTRAL_BINARY + " " + args + " >" + c.out_path + " 2>" + c.err_path +
                          " </dev/null";
  c.pid = ::fork();
  if (c.pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return c;
}

}  // namespace

TEST(Distributed, TwoProcessesTrainWhatOneProcessTrainsAtTheSameGlobalBatch) {
  TrainWorkspace ws("mpi-equal");
  const std::string one = ws.dir + "/one", two = ws.dir + "/two";
  RunResult r = run_spectral(ws.train(one, kSets), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_mpi(2, ws.train(two, kSets), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  // the processes checked at the end that they hold bit-identical weights
  EXPECT_NE(r.err.find("weights identical on all 2 processes"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 processes x 8 sequences"), std::string::npos) << r.err;
  expect_same_metrics(one + "/metrics.jsonl", two + "/metrics.jsonl", 1e-5);
  expect_same_weights(one + "/last.safetensors", two + "/last.safetensors", 1e-5);
  // one run directory, written once: no second progress or summary line from the other process
  size_t done_lines = 0;
  for (size_t at = r.err.find("done: "); at != std::string::npos; at = r.err.find("done: ", at + 1)) done_lines++;
  EXPECT_EQ(done_lines, 1u) << r.err;

  // its checkpoints load in plain (one-process) sample and eval
  r = run_spectral("sample --checkpoint " + two + "/best.safetensors --prompt the --tokens 20 --seed 1 --threads 1", ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  r = run_spectral("eval --checkpoint " + two + "/last.safetensors --text " + ws.text + " --split val --threads 1", ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
}

// Muon's update is computed by every process from the same summed gradient, and so is the weights'
// average: still one model, the same as one process trains.
TEST(Distributed, MuonAndTheWeightsAverageTrainWhatOneProcessTrains) {
  TrainWorkspace ws("mpi-muon");
  const std::string one = ws.dir + "/one", two = ws.dir + "/two";
  const std::string sets = std::string(kSets) + "--set train.optimizer=muon --set train.ema=0.9 ";
  RunResult r = run_spectral(ws.train(one, sets), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_mpi(2, ws.train(two, sets), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("weights identical on all 2 processes"), std::string::npos) << r.err;
  expect_same_metrics(one + "/metrics.jsonl", two + "/metrics.jsonl", 1e-5);
  expect_same_weights(one + "/last.safetensors", two + "/last.safetensors", 1e-5);
  // and a stopped two-process run resumes with two processes as if uninterrupted
  const std::string three = ws.dir + "/three";
  r = run_mpi(2, ws.train(three, sets + "--stop-at 30"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_mpi(2, ws.resume(three), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_metrics(two + "/metrics.jsonl", three + "/metrics.jsonl", 1e-5);
  expect_same_weights(two + "/last.safetensors", three + "/last.safetensors", 1e-5);
  EXPECT_EQ(load_checkpoint(three + "/last.safetensors").train_state["ema_updates"], 50);
}

// Processes and replicas combine: 2 processes × 2 replicas (a thread each), 4 sequences per replica,
// with dropout, Muon and the weights' average, train what one process with one model trains.
TEST(Distributed, ProcessesWithReplicasTrainWhatOneProcessTrains) {
  TrainWorkspace ws("mpi-replicas");
  const std::string one = ws.dir + "/one", four = ws.dir + "/four";
  const std::string sets = std::string(kSets) + "--set train.optimizer=muon --set train.ema=0.9 ";
  RunResult r = run_spectral(ws.train(one, sets), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string args = ws.train(four, sets + "--set train.replicas=2");
  args.replace(args.find("--threads 1"), 11, "--threads 2");
  r = run_mpi(2, args, ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 processes x 8 sequences, 2 replicas x 4 sequences"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("weights identical on all 2 processes"), std::string::npos) << r.err;
  expect_same_metrics(one + "/metrics.jsonl", four + "/metrics.jsonl", 1e-4);
  expect_same_weights(one + "/last.safetensors", four + "/last.safetensors", 1e-4);
}

TEST(Distributed, AStoppedRunResumesWithTwoOrOneProcessesAsIfUninterrupted) {
  TrainWorkspace ws("mpi-resume");
  const std::string whole = ws.dir + "/whole", cut = ws.dir + "/cut", cut1 = ws.dir + "/cut1";
  RunResult r = run_mpi(2, ws.train(whole, kSets), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_mpi(2, ws.train(cut, std::string(kSets) + "--stop-at 20"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(load_checkpoint(cut + "/last.safetensors").step, 20);
  fs::copy(cut, cut1);
  r = run_mpi(2, ws.resume(cut), ws.dir);  // two processes again
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_weights(whole + "/last.safetensors", cut + "/last.safetensors", 1e-5);
  expect_same_metrics(whole + "/metrics.jsonl", cut + "/metrics.jsonl", 1e-5);
  r = run_spectral(ws.resume(cut1), ws.dir);  // one process
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_weights(whole + "/last.safetensors", cut1 + "/last.safetensors", 1e-5);
  expect_same_metrics(whole + "/metrics.jsonl", cut1 + "/metrics.jsonl", 1e-5);
}

TEST(Distributed, OneProcessRunResumesWithTwo) {
  TrainWorkspace ws("mpi-grow");
  const std::string whole = ws.dir + "/whole", cut = ws.dir + "/cut";
  ASSERT_EQ(run_spectral(ws.train(whole, kSets), ws.dir).code, 0);
  ASSERT_EQ(run_spectral(ws.train(cut, std::string(kSets) + "--stop-at 30"), ws.dir).code, 0);
  RunResult r = run_mpi(2, ws.resume(cut), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_weights(whole + "/last.safetensors", cut + "/last.safetensors", 1e-5);
}

TEST(Distributed, ABatchTheProcessesCannotShareIsRefusedBeforeAnythingIsWritten) {
  TrainWorkspace ws("mpi-batch");
  const std::string run = ws.dir + "/run";
  RunResult r = run_mpi(2, ws.train(run, "--set train.batch_size=5"), ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("error: train.batch_size 5 is not divisible by the 2 processes"), std::string::npos) << r.err;
  size_t errors = 0;
  for (size_t at = r.err.find("error"); at != std::string::npos; at = r.err.find("error", at + 1)) errors++;
  EXPECT_EQ(errors, 1u) << r.err;  // rank 0 reports; the other process ends quietly
  EXPECT_FALSE(fs::exists(run));
}

TEST(Distributed, OtherCommandsRefuseSeveralProcesses) {
  TrainWorkspace ws("mpi-other");
  RunResult r = run_mpi(2, "eval --checkpoint nothing.safetensors --text " + ws.text, ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("start this command without mpirun"), std::string::npos) << r.err;
}

TEST(Distributed, ASignalStopsEveryProcessAtTheSameStepWithACheckpointThatResumes) {
  TrainWorkspace ws("mpi-signal");
  const std::string run = ws.dir + "/run", metrics = run + "/metrics.jsonl";
  Child c = spawn_mpi(2, ws.train(run, "--set train.steps=100000 --set train.eval_interval=5000"), ws.dir);
  // running: training lines are being written
  bool running = false;
  for (int i = 0; i < 3000 && !running; i++) {
    for (const auto& row : read_jsonl(metrics)) running |= row.contains("loss") && row["step"].get<int>() >= 20;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(running) << slurp(c.err_path);
  ::kill(c.pid, SIGINT);  // mpirun passes it on to every process (as SIGTERM)
  double waited = 0;
  const int status = wait_child(c, 30, &waited);
  ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << slurp(c.err_path);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_LT(waited, 10.0);
  const std::string err = slurp(c.err_path);
  EXPECT_NE(err.find("stopped by signal"), std::string::npos) << err;
  EXPECT_NE(err.find("weights identical on all 2 processes"), std::string::npos) << err;
  const LoadedCheckpoint ck = load_checkpoint(run + "/last.safetensors");
  ASSERT_GT(ck.step, 0);

  // resumed for 10 more steps, it equals an uninterrupted run of two processes stopped at the same
  // step (the same summation order: after hundreds of steps, one process's rounding would differ)
  const int until = ck.step + 10;
  RunResult r = run_mpi(2, ws.resume(run, "--stop-at " + std::to_string(until)), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string straight = ws.dir + "/straight";
  r = run_mpi(2,
              ws.train(straight, "--set train.steps=100000 --set train.eval_interval=5000 --stop-at " +
                                     std::to_string(until)),
              ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_weights(straight + "/last.safetensors", run + "/last.safetensors", 1e-6);
}

TEST(Distributed, ADeadProcessEndsTheJobAndLeavesTheLastCheckpointLoadable) {
  TrainWorkspace ws("mpi-kill");
  const std::string run = ws.dir + "/run";
  Child c = spawn_mpi(2, ws.train(run, "--set train.steps=100000 --set train.eval_interval=20"), ws.dir);
  ASSERT_TRUE(wait_for_file(run + "/last.safetensors", 60)) << slurp(c.err_path);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const pid_t rank = a_rank_of(c.pid);
  ASSERT_GT(rank, 0);
  ::kill(rank, SIGKILL);
  double waited = 0;
  const int status = wait_child(c, 30, &waited);
  ASSERT_NE(status, -1) << "the job did not end";
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(c.err_path);
  EXPECT_LT(waited, 10.0);
  EXPECT_NO_THROW(load_checkpoint(run + "/last.safetensors"));
}

TEST(Distributed, BenchTrainReportsEachProcessAllProcessesAndTheAllReduce) {
  TrainWorkspace ws("mpi-bench");
  RunResult r = run_mpi(2,
                        "bench train --config " + ws.config +
                            " --set train.batch_size=4 --steps 3 --warmup 1 --peak-n 64 --threads 1",
                        ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 processes x 1 threads; global batch 4 = 2 sequences per process"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all-reduce ms"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens/s per process"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens/s, all processes"), std::string::npos) << r.out;
  // one table: the other process prints nothing
  size_t tables = 0;
  for (size_t at = r.out.find("ms/step"); at != std::string::npos; at = r.out.find("ms/step", at + 1)) tables++;
  EXPECT_EQ(tables, 1u) << r.out;
  // a batch the processes cannot share is refused
  r = run_mpi(2, "bench train --config " + ws.config + " --set train.batch_size=3 --steps 1 --threads 1", ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("error: train.batch_size 3 is not divisible by the 2 processes"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("process 1 of 2"), std::string::npos) << r.err;
}

TEST(Distributed, ANonFiniteLossStopsEveryProcessAtTheSameStepReportedOnce) {
  TrainWorkspace ws("mpi-nonfinite");
  const std::string run = ws.dir + "/run";
  RunResult r = run_mpi(2, ws.train(run, "--set train.lr=1e4 --set train.warmup_steps=0"), ws.dir);
  EXPECT_EQ(r.code, 3) << r.err;
  size_t errors = 0;
  for (size_t at = r.err.find("error: step "); at != std::string::npos; at = r.err.find("error: step ", at + 1)) errors++;
  EXPECT_EQ(errors, 1u) << r.err;
  EXPECT_EQ(r.err.find("process 1 of 2"), std::string::npos) << r.err;
  // skip mode: both skip the same steps and go on (the run still ends with identical weights)
  const std::string skip = ws.dir + "/skip";
  r = run_mpi(2,
              ws.train(skip, "--set train.lr=1e4 --set train.warmup_steps=0 --set train.on_nonfinite=skip "
                             "--set train.skip_limit=0 --set train.steps=12 --set train.eval_interval=6"),
              ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("weights identical on all 2 processes"), std::string::npos) << r.err;
}
