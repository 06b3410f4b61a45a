// The command line as a newcomer meets it, through the binary: install, the hint for a missing
// text, run directories as --checkpoint, time-budgeted runs, warmup >= steps, output paths checked
// before any work, the closing lines of train, and the conventions of a command-line tool (one-line
// usage errors, last repeated option wins, unknown commands, - for stdin/stdout, NO_COLOR, negative
// seeds, a config too large for the memory).
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_runner.h"
#include "train_workspace.h"

using namespace spectral::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// `spectral <args>` with stdin from a file, run through sh from dir (so relative paths are dir's).
RunResult run_in(const std::string& dir, const std::string& args, const std::string& stdin_path = "/dev/null",
                 const std::string& env = "") {
  return run_captured("cd '" + dir + "' && " + env + " " + SPECTRAL_BINARY + " " + args, dir, stdin_path);
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A tiny trained run in the workspace (20 steps, one evaluation: best.safetensors exists).
std::string trained_run(const TrainWorkspace& ws) {
  const std::string run = ws.dir + "/run";
  RunResult r = run_spectral(ws.train(run, "--set train.steps=20"), ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return run;
}

}  // namespace

TEST(CliConventions, InstallPutsTheProgramUnderThePrefix) {
  const std::string dir = temp_dir("install");
  const std::string build = fs::path(SPECTRAL_BINARY).parent_path().string();
  const int status = std::system(("cmake --install '" + build + "' --prefix '" + dir + "/p' >" + dir + "/log 2>&1").c_str());
  ASSERT_EQ(WEXITSTATUS(status), 0) << slurp(dir + "/log");
  ASSERT_TRUE(fs::exists(dir + "/p/bin/spectral"));
  EXPECT_EQ(std::system(("'" + dir + "/p/bin/spectral' --version >" + dir + "/version 2>&1").c_str()), 0);
  EXPECT_NE(slurp(dir + "/version").find("spectral"), std::string::npos) << slurp(dir + "/version");
  // the build makes a manual page when help2man was found (and it is not a sanitizer build)
  EXPECT_EQ(fs::exists(dir + "/p/share/man/man1/spectral.1"), bool(SPECTRAL_MANPAGE));
}

TEST(CliConventions, MissingDefaultTextSaysHowToPointAtOne) {
  const std::string dir = temp_dir("nodata");
  RunResult r = run_in(dir, "train --set train.steps=3 --out run --no-progress");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("data/tinyshakespeare/input.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--set data.path="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("scripts/fetch_data.sh"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/run"));
}

TEST(CliConventions, SampleAndEvalTakeARunDirectory) {
  TrainWorkspace ws("rundir");
  const std::string run = trained_run(ws);
  RunResult r = run_spectral("sample --checkpoint " + run + " --prompt the --tokens 5 --threads 1", ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("the", 0), 0u);
  EXPECT_NE(r.err.find(run + "/best.safetensors"), std::string::npos) << r.err;
  r = run_spectral("eval --checkpoint " + run + "/ --text " + ws.text + " --json --threads 1", ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NO_THROW(json::parse(r.out));
  EXPECT_NE(r.err.find("best.safetensors"), std::string::npos) << r.err;
  // a directory without checkpoints: a clear error
  r = run_spectral("sample --checkpoint " + ws.dir + " --prompt the", ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is a directory without best.safetensors or last.safetensors"), std::string::npos) << r.err;
}

TEST(CliConventions, RunStoppedBeforeItsFirstEvaluationIsLoadable) {
  TrainWorkspace ws("early");
  const std::string run = ws.dir + "/run";
  RunResult r = run_spectral(ws.train(run, "--set train.eval_interval=1000 --set train.steps=2000 --stop-at 3"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(run + "/best.safetensors"));
  r = run_spectral("sample --checkpoint " + run + " --prompt the --tokens 5 --threads 1", ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(run + "/last.safetensors"), std::string::npos) << r.err;
  r = run_spectral("eval --checkpoint " + run + " --text " + ws.text + " --json --threads 1", ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(CliConventions, TimeBudgetShownAndItsEndSaysHowToExtend) {
  TrainWorkspace ws("budget");
  const std::string run = ws.dir + "/run";
  const std::string budget = "--set train.steps=100000000 --set train.schedule=time --set train.time_limit_s=1 "
                             "--set train.eval_interval=100000 --set train.log_interval=50";
  RunResult r = run_spectral("train --config " + ws.config + " --set data.path=" + ws.text + " --out " + run +
                                 " --threads 1 " + budget,
                             ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(" of 0m01s"), std::string::npos) << r.err;  // progress: time spent of the budget
  EXPECT_EQ(r.err.find("/100000000"), std::string::npos) << r.err;  // not the step count nobody reaches
  EXPECT_NE(r.err.find("--allow-changes --set train.time_limit_s="), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(run + "/best.safetensors"));
  const auto before = read_jsonl(run + "/metrics.jsonl").size();
  // resuming a spent budget does not run one more step and say the same again
  r = run_spectral(ws.resume(run), ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("used its time budget"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-changes --set train.time_limit_s="), std::string::npos) << r.err;
  EXPECT_EQ(read_jsonl(run + "/metrics.jsonl").size(), before);
}

TEST(CliConventions, WarmupAsLongAsTheRunIsWarned) {
  TrainWorkspace ws("warmup");
  RunResult r = run_spectral(ws.train(ws.dir + "/a", "--set train.steps=10 --set train.warmup_steps=10"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("train.warmup_steps = 10 >= train.steps = 10"), std::string::npos) << r.err;
  r = run_spectral(ws.train(ws.dir + "/b", "--set train.steps=10 --set train.warmup_steps=2"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("warmup_steps"), std::string::npos) << r.err;
}

TEST(CliConventions, TrainEndsByNamingTheMetricsAndThePlotCommand) {
  TrainWorkspace ws("lastlines");
  const std::string run = ws.dir + "/run";
  RunResult r = run_spectral(ws.train(run, "--set train.steps=10"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  EXPECT_NE(last.find(run + "/metrics.jsonl"), std::string::npos) << last;
  EXPECT_NE(last.find("scripts/plot_loss.py " + run + " -o "), std::string::npos) << last;
}

TEST(CliConventions, OutputPathsAreCheckedBeforeAnyWork) {
  TrainWorkspace ws("outputs");
  const std::string run = trained_run(ws);
  for (const std::string& args :
       {"eval --checkpoint " + run + " --text " + ws.text + " --per-char " + ws.dir + "/nodir/x.csv",
        "bench train --set model.d_model=16 --set model.n_heads=2 --set model.context=16 --steps 1 --warmup 0 --csv " +
            ws.dir + "/nodir/b.csv",
        "bench mixers --t-min 16 --t-max 16 --d 16 --csv " + ws.dir + "/nodir/m.csv"}) {
    RunResult r = run_spectral(args, ws.dir);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("nodir does not exist"), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << args << "\n" << r.err;  // nothing was scored or measured first
    EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
  }
}

TEST(CliConventions, DashIsStandardInputAndOutput) {
  TrainWorkspace ws("dash");
  const std::string run = trained_run(ws);
  spit(ws.dir + "/prompt.txt", "the");
  RunResult r = run_in(ws.dir, "sample --checkpoint " + run + " --prompt-file - --tokens 5 --temperature 0", ws.dir + "/prompt.txt");
  ASSERT_EQ(r.code, 0) << r.err;
  RunResult direct = run_in(ws.dir, "sample --checkpoint " + run + " --prompt the --tokens 5 --temperature 0");
  EXPECT_EQ(r.out, direct.out);
  // eval: the text from stdin scores as the file does; --per-char - puts the CSV alone on stdout
  RunResult file = run_in(ws.dir, "eval --checkpoint " + run + " --text " + ws.text + " --json");
  r = run_in(ws.dir, "eval --checkpoint " + run + " --text - --json", ws.text);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, file.out);
  r = run_in(ws.dir, "eval --checkpoint " + run + " --text " + ws.text + " --per-char -");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("position,character,loss,correct\n", 0), 0u) << r.out.substr(0, 100);
  EXPECT_EQ(r.out.find("perplexity"), std::string::npos);
  EXPECT_NE(r.err.find("perplexity"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(ws.dir + "/-"));
}

TEST(CliConventions, UsageErrorsAreOneLineAndTheLastRepeatedOptionWins) {
  TrainWorkspace ws("usage");
  const std::string run = trained_run(ws);
  RunResult r = run_spectral("trian", ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "error: unknown command \"trian\" for spectral (commands: train, sample, eval, bench); did you mean "
                   "spectral train?\n");
  r = run_spectral("bench mixer", ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean spectral bench mixers?"), std::string::npos) << r.err;
  r = run_spectral("sample --checkpoint " + run + " --prompt the --seed -1", ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("error: --seed", 0), 0u) << r.err;
  r = run_spectral("eval --text x", ws.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  // repeated: the last value is the one used
  RunResult once = run_spectral("sample --checkpoint " + run + " --prompt the --tokens 7 --threads 1", ws.dir);
  r = run_spectral("sample --checkpoint " + run + " --prompt the --tokens 3 --tokens 7 --threads 1", ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, once.out);
}

TEST(CliConventions, NoColorTurnsColourOffOnATerminal) {
  if (std::system("command -v script >/dev/null") != 0) GTEST_SKIP() << "no script(1) for a terminal";
  TrainWorkspace ws("color");
  const std::string run = trained_run(ws);
  // script(1) gives the program a terminal; the log line "info" is coloured there unless NO_COLOR
  auto on_tty = [&](const std::string& env) {
    const std::string log = ws.dir + "/tty.log";
    const std::string cmd = "script -qec \"" + env + " " + SPECTRAL_BINARY + " sample --checkpoint " + run +
                            " --prompt the --tokens 2\" " + log + " >/dev/null 2>&1 </dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return slurp(log);
  };
  const std::string coloured = on_tty("env -u NO_COLOR");
  if (coloured.find("\x1b[") == std::string::npos) GTEST_SKIP() << "no colour on this terminal: " << coloured;
  const std::string plain = on_tty("NO_COLOR=1");
  EXPECT_NE(plain.find("info"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("\x1b["), std::string::npos) << plain;
}

TEST(CliConventions, ConfigTooLargeForTheMemoryIsRefusedWithAnEstimate) {
  TrainWorkspace ws("memory", 300000);  // long enough for 64 sequences of 4096 characters
  const std::string run = ws.dir + "/run";
  // d_model 8192 at 64 x 4096: over 150 GB of activations, more than a test machine has
  RunResult r = run_spectral(ws.train(run, "--set model.context=4096 --set train.batch_size=64 --set model.d_model=8192 "
                                           "--set model.n_heads=8 --set train.steps=1"),
                             ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("this config needs about"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GB of memory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lower train.batch_size"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(run + "/last.safetensors"));
}
