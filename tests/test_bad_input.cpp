// Bad input through the binary, beyond the cases of test_cli.cpp: every case of the robustness
// issue gets one line on stderr that says what and where, exit code 2, nothing on stdout, and no
// file of a good run overwritten. Config values, data too short for a batch, damaged or foreign
// checkpoints (for sample and eval), prompt and eval text, and output locations that cannot be
// written.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_runner.h"
#include "io/safetensors.h"
#include "train_workspace.h"

using namespace spectral;
using namespace spectral::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string args, expect;
};

// The line of stderr that holds `text` ("" when no single line does).
std::string line_with(const std::string& err, const std::string& text) {
  std::istringstream lines(err);
  std::string line;
  while (std::getline(lines, line))
    if (line.find(text) != std::string::npos) return line;
  return "";
}

void expect_exit_2(const TrainWorkspace& ws, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    RunResult r = run_spectral(c.args, ws.dir);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\nstderr: " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args << "\nstdout: " << r.out;
    // one line says it all: the error line holds the detail (CLI11's own usage errors aside)
    const std::string line = line_with(r.err, c.expect);
    EXPECT_FALSE(line.empty()) << c.args << "\nstderr: " << r.err;
    if (r.err.find("Run with --help") == std::string::npos) {
      EXPECT_EQ(line.rfind("error: ", 0), 0u) << c.args << "\nline: " << line;
    }
  }
}

// Snapshot of a directory's files (name → bytes), to show that nothing in it changed.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files[e.path().filename().string()] = slurp(e.path().string());
  return files;
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; i++) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A checkpoint's header (JSON) and data section, split; and put back together.
struct RawFile {
  json header;
  std::string data;
  explicit RawFile(const std::string& bytes) {
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
    header = json::parse(bytes.substr(8, n));
    data = bytes.substr(8 + n);
  }
  std::string bytes() const {
    const std::string h = header.dump();
    return le64(h.size()) + h + data;
  }
};

}  // namespace

TEST(BadInput, ConfigValuesThroughTheCli) {
  TrainWorkspace ws("bad-config");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--set train.steps=5"), ws.dir).code, 0);
  const auto before = snapshot(run);  // a good run that no failed start may touch
  auto train = [&](const std::string& sets) { return ws.train(run, sets); };
  spit(ws.dir + "/list.json", "[1, 2]");
  expect_exit_2(ws, {
                        {train("--set model.d_model=0"), "model.d_model: must be positive"},
                        {train("--set model.n_layers=-1"), "model.n_layers: must be positive"},
                        {train("--set model.context=0"), "model.context: must be positive"},
                        {train("--set train.batch_size=-4"), "train.batch_size: must be positive"},
                        {train("--set train.steps=0"), "train.steps: must be positive"},
                        {train("--set train.lr=-0.1"), "train.lr: must be positive"},
                        {train("--set model.d_model=30 --set model.n_heads=4"), "30 is not divisible by model.n_heads = 4"},
                        {train("--set model.mixer=conv"), "model.mixer[0]: unknown mixer \"conv\""},
                        {train("--set model.mixer=[\\\"fft\\\",\\\"mamba\\\"]"), "model.mixer[1]: unknown mixer \"mamba\""},
                        {train("--set model.context=7000"), "model.context"},  // longer than the text
                        {train("--set train.on_nonfinite=ignore"), "train.on_nonfinite: expected \"stop\" or \"skip\""},
                        {train("--set train.optimizer=sgd"), "train.optimizer: expected \"adamw\" or \"muon\", got \"sgd\""},
                        {train("--set train.optimizer=muon --set train.muon_lr=-0.02"), "train.muon_lr: must be positive"},
                        {train("--set train.muon_momentum=1"), "train.muon_momentum: must be in [0, 1)"},
                        {train("--set train.muon_momentum=-0.5"), "train.muon_momentum: must be in [0, 1)"},
                        {train("--set train.muon_weight_decay=-1"), "train.muon_weight_decay: must be >= 0"},
                        {train("--set train.ema=1"), "train.ema: must be in [0, 1)"},
                        {train("--set model.keep_activations_mib=-1"), "model.keep_activations_mib: must be >= 0"},
                        {train("--set train.ema=-0.1"), "train.ema: must be in [0, 1)"},
                        {train("--set train.steps=many"), "train.steps: expected an integer, got a string"},
                        {train("--set model.d_model=99999999999"), "model.d_model: integer out of range"},
                        {train("--set model.d_model=16777217"), "model too large"},
                        {train("--set model.n_heads=4 --set model.d_model=2 --set model.mixer=rot"), "model.d_model"},
                        {train("--set model.d_model=3 --set model.n_heads=1 --set model.mixer=rot"),
                         "model.rot.rank: 0 means d_model/4"},
                        {train("--set train"), "--set train: expected key=value"},
                        {train("--set =5"), "expected key=value"},
                        {train("--set train..steps=5"), "empty component in key path"},
                        {train("--set train.steps.x=5"), "train.steps is not a section"},
                        {"train --config " + ws.dir + "/list.json --set train.steps=5 --out " + run,
                         "the config is a list, not a JSON object"},
                        {train("--set \"data.path=$(printf '\\377').txt\""), "not valid UTF-8"},
                    });
  EXPECT_EQ(snapshot(run), before);
}

TEST(BadInput, DataTooShortForOneBatch) {
  TrainWorkspace ws("bad-data", 500);  // 450 characters to train on
  // batch 4 x context 32 = 128 fits; batch 16 x 32 = 512 does not
  RunResult r = run_spectral(ws.train(ws.dir + "/ok", "--set train.steps=2"), ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  expect_exit_2(ws, {{ws.train(ws.dir + "/run", "--set train.batch_size=16"),
                      "the training part has 450 characters, fewer than one batch (train.batch_size 16 x model.context 32 = 512)"}});
  EXPECT_FALSE(fs::exists(ws.dir + "/run")) << "the output directory was made before the data was checked";
}

TEST(BadInput, DamagedAndForeignCheckpointsForSampleAndEval) {
  TrainWorkspace ws("bad-ckpt");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--set train.steps=5"), ws.dir).code, 0);
  const std::string good = slurp(run + "/last.safetensors");
  const std::string d = ws.dir + "/";
  spit(d + "truncated.safetensors", good.substr(0, good.size() / 2));
  spit(d + "short.safetensors", good.substr(0, 5));
  spit(d + "empty.safetensors", "");
  spit(d + "zip.safetensors", std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10) + std::string(200, 'x'));  // a .pt file
  spit(d + "text.safetensors", "just some text, not a checkpoint at all\n");
  fs::create_directories(d + "dir.safetensors");
  {
    RawFile f(good);  // header not JSON
    spit(d + "header.safetensors", le64(12) + "{\"wte\": [1,2" + f.data);
  }
  {
    RawFile f(good);
    f.header["__metadata__"]["format_version"] = "9";
    spit(d + "version.safetensors", f.bytes());
  }
  {
    RawFile f(good);
    f.header["__metadata__"]["format"] = "pt";
    spit(d + "format.safetensors", f.bytes());
  }
  {
    RawFile f(good);
    f.header["__metadata__"].erase("format");
    spit(d + "noformat.safetensors", f.bytes());
  }
  {
    RawFile f(good);  // offsets beyond the data section
    auto& off = f.header["wte"]["data_offsets"];
    off[1] = off[1].get<uint64_t>() + 1000000;
    spit(d + "offsets.safetensors", f.bytes());
  }
  {
    RawFile f(good);  // offsets that overlap the next tensor
    auto& off = f.header["wte"]["data_offsets"];
    off[1] = off[1].get<uint64_t>() + 4;
    f.header["wte"]["shape"] = json::array({off[1].get<uint64_t>() / 4 - off[0].get<uint64_t>() / 4});
    spit(d + "overlap.safetensors", f.bytes());
  }
  {
    RawFile f(good);  // the config says d_model 32, the tensors are 16 wide
    json cfg = json::parse(f.header["__metadata__"]["config"].get<std::string>());
    cfg["model"]["d_model"] = 32;
    f.header["__metadata__"]["config"] = cfg.dump();
    spit(d + "shape.safetensors", f.bytes());
  }
  {
    RawFile f(good);  // the config asks for 40 layers: refused before any allocation
    json cfg = json::parse(f.header["__metadata__"]["config"].get<std::string>());
    cfg["model"]["n_layers"] = 40;
    cfg["model"]["mixer"] = "fft";
    f.header["__metadata__"]["config"] = cfg.dump();
    spit(d + "layers.safetensors", f.bytes());
  }
  {
    RawFile f(good);  // a vocabulary that does not match the embedding
    f.header["__metadata__"]["vocab"] = "[97,98,99]";
    spit(d + "vocab.safetensors", f.bytes());
  }
  {
    std::vector<float> w(6, 1.f);  // a valid safetensors file from another tool
    write_safetensors(d + "other.safetensors", {{"weight", {2, 3}, w.data()}}, {{"format", "pt"}});
  }
  const std::vector<Case> files = {
      {"truncated.safetensors", "ends beyond the data section"},
      {"short.safetensors", "shorter than the 8-byte header length"},
      {"empty.safetensors", "file is 0 bytes"},
      {"zip.safetensors", "exceeds the 100000000-byte limit"},
      {"text.safetensors", "exceeds the 100000000-byte limit"},
      {"dir.safetensors", "is a directory"},
      {"header.safetensors", "header is not valid JSON"},
      {"version.safetensors", "format_version 9 is not supported"},
      {"format.safetensors", "not a spectral checkpoint (metadata \"format\" is \"pt\")"},
      {"noformat.safetensors", "not a spectral checkpoint (metadata \"format\" is missing)"},
      {"offsets.safetensors", "ends beyond the data section"},
      {"overlap.safetensors", "overlap in the data section"},
      {"shape.safetensors", "tensor wte has shape [16,16], the config needs [16,32]"},
      {"layers.safetensors", "the config has 40 layers but the file holds only"},
      {"vocab.safetensors", "tensor wte has shape [16,16], the config needs [3,16]"},
      {"other.safetensors", "not a spectral checkpoint"},
      {"missing.safetensors", "missing.safetensors: cannot open for reading: No such file or directory"},
  };
  const std::string held = d + "held.txt";
  spit(held, generated_text(300, 5));
  std::vector<Case> cases;
  for (const Case& f : files) {
    cases.push_back({"sample --checkpoint " + d + f.args + " --prompt the --tokens 5", f.expect});
    cases.push_back({"eval --checkpoint " + d + f.args + " --text " + held, f.expect});
  }
  expect_exit_2(ws, cases);
  // every message names the file
  for (const Case& f : files) {
    RunResult r = run_spectral("eval --checkpoint " + d + f.args + " --text " + held, ws.dir);
    EXPECT_NE(r.err.find(d + f.args), std::string::npos) << r.err;
  }
  EXPECT_EQ(slurp(run + "/last.safetensors"), good);
}

TEST(BadInput, PromptAndEvalText) {
  TrainWorkspace ws("bad-text");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--set train.steps=5"), ws.dir).code, 0);
  const std::string ck = run + "/last.safetensors", d = ws.dir + "/";
  spit(d + "zebra.txt", "the cat sat on a mat. Zed and Yo.\n");
  spit(d + "empty.txt", "");
  spit(d + "one.txt", "a");
  spit(d + "latin1.txt", std::string("the cat\n\xe9t\xe9"));
  spit(d + "prompt-bad.txt", std::string("the \xc0\xaf cat"));
  auto sample = [&](const std::string& rest) { return "sample --checkpoint " + ck + " " + rest; };
  expect_exit_2(ws, {
                        {sample("--prompt 'the Zebra'"), "prompt: characters not in the model's vocabulary: \"Z\" (U+005A) at position 4"},
                        {sample("--prompt-file " + d + "zebra.txt"), "\"Z\" (U+005A) at position 22"},
                        {sample("--prompt-file " + d + "prompt-bad.txt"), "invalid UTF-8 at byte 4 (line 1): overlong"},
                        {sample("--prompt-file " + d + "nope.txt"), "nope.txt: cannot open"},
                        {sample("--prompt ''"), "prompt: empty"},
                        {sample("--prompt-file " + d + "empty.txt"), "empty"},
                        {sample("--prompt ZZZ --unknown skip"), "no characters left after skipping"},
                        {sample("--prompt the --tokens 0"), "--tokens must be positive, got 0"},
                        {sample("--prompt the --tokens -3"), "--tokens must be positive, got -3"},
                        {sample("--prompt the --temperature -0.5"), "--temperature must be >= 0"},
                        {sample("--prompt the --top-p 0"), "--top-p must be in (0, 1], got 0"},
                        {sample("--prompt the --top-p -0.5"), "--top-p must be in (0, 1]"},
                        {sample("--prompt the --top-p 1.01"), "--top-p must be in (0, 1]"},
                        {sample("--prompt the --top-k -1"), "--top-k must be >= 0"},
                        {sample("--prompt the --unknown drop"), "--unknown"},
                        {sample(""), "give --prompt TEXT or --prompt-file FILE"},
                        {"eval --checkpoint " + ck + " --text " + d + "zebra.txt",
                         "characters not in the model's vocabulary: \"Z\" (U+005A) at position 22, \"Y\" (U+0059) at position 30"},
                        {"eval --checkpoint " + ck + " --text " + d + "latin1.txt", "invalid UTF-8 at byte 8 (line 2)"},
                        {"eval --checkpoint " + ck + " --text " + d + "empty.txt", "needs at least two characters"},
                        {"eval --checkpoint " + ck + " --text " + d + "one.txt", "needs at least two characters to score, has 1"},
                        {"eval --checkpoint " + ck + " --text " + d + "nope.txt", "nope.txt: cannot open"},
                        {"eval --checkpoint " + ck + " --text " + ws.text + " --stride 33", "--stride must be in [1, context = 32]"},
                    });
  // --unknown skip: the characters are dropped with a warning naming them
  RunResult r = run_spectral("eval --checkpoint " + ck + " --text " + d + "zebra.txt --unknown skip --json", ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("dropped 2 characters not in the model's vocabulary: \"Z\" (U+005A) at position 22"), std::string::npos)
      << r.err;
  EXPECT_EQ(json::parse(r.out)["chars"], 31);  // 34 characters, 2 dropped, the first has no history
}

TEST(BadInput, OutputThatCannotBeWrittenStopsBeforeTraining) {
  TrainWorkspace ws("bad-out");
  // --out below a regular file, or a regular file itself (root ignores permissions; this binds)
  expect_exit_2(ws, {
                        {ws.train(ws.text + "/run"), "output directory " + ws.text + "/run: cannot be created: Not a directory"},
                        {ws.train(ws.text), "output directory " + ws.text + ": exists and is not a directory"},
                    });
  EXPECT_EQ(slurp(ws.text), generated_text(6000)) << "the text was overwritten";
  // no training happened: no log line of a step
  RunResult r = run_spectral(ws.train(ws.text + "/run"), ws.dir);
  EXPECT_EQ(r.err.find("step "), std::string::npos) << r.err;
  // eval's --per-char output, same
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--set train.steps=5"), ws.dir).code, 0);
  expect_exit_2(ws, {{"eval --checkpoint " + run + "/last.safetensors --text " + ws.text + " --per-char " + ws.text + "/x.csv",
                      "x.csv"}});
}

// A fresh run into a directory that holds another run is refused (exit 2, every file untouched);
// --overwrite replaces that run; --overwrite with --resume makes no sense and is refused.
TEST(BadInput, FreshRunIntoAnExistingRunIsRefusedUnlessOverwrite) {
  TrainWorkspace ws("out-taken");
  const std::string run = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(run, "--set train.steps=20"), ws.dir).code, 0);
  const auto before = snapshot(run);
  ASSERT_TRUE(before.count("metrics.jsonl") && before.count("last.safetensors") && before.count("best.safetensors"));
  expect_exit_2(ws, {{ws.train(run, "--set train.steps=40"), "--out " + run + ": already holds a run"}});
  RunResult r = run_spectral(ws.train(run, "--set train.steps=40"), ws.dir);
  EXPECT_NE(r.err.find("--resume " + run), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(run), before) << "a refused run changed the directory";
  // an empty directory, or one holding other files, is fine
  fs::create_directories(ws.dir + "/empty");
  spit(ws.dir + "/empty/notes.txt", "mine");
  ASSERT_EQ(run_spectral(ws.train(ws.dir + "/empty", "--set train.steps=20"), ws.dir).code, 0);
  EXPECT_EQ(slurp(ws.dir + "/empty/notes.txt"), "mine");
  // --overwrite: the new run replaces the old one
  r = run_spectral(ws.train(run, "--set train.steps=40 --overwrite"), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--overwrite: removed"), std::string::npos) << r.err;
  const auto lines = read_jsonl(run + "/metrics.jsonl");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front()["step"], 10);
  EXPECT_EQ(lines.back()["step"], 40);
  r = run_spectral(ws.resume(run, "--overwrite"), ws.dir);
  EXPECT_EQ(r.code, 2) << r.err;
}
