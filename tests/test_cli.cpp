// End to end through the binary: train → sample → eval on a tiny config and generated text,
// determinism on one thread, and the exit codes and messages of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "train_workspace.h"

using namespace spectral::testing;
using nlohmann::json;

using Workspace = TrainWorkspace;

TEST(Cli, TrainSampleEvalEndToEnd) {
  Workspace ws("e2e");
  const std::string out = ws.dir + "/run";
  RunResult r = run_spectral(ws.train(out), ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"config.json", "metrics.jsonl", "last.safetensors", "best.safetensors"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;
  // resolved config has every section and the override
  json cfg = json::parse(slurp(out + "/config.json"));
  EXPECT_EQ(cfg["data"]["path"], ws.text);
  EXPECT_EQ(cfg["model"]["mixer"], json({"fft", "fft"}));
  // metrics: training lines with the documented keys, evaluation lines, loss going down
  auto rows = read_jsonl(out + "/metrics.jsonl");
  int train_lines = 0, eval_lines = 0;
  double first = 0, last = 0;
  for (auto& row : rows) {
    if (row.contains("val_loss")) {
      eval_lines++;
      EXPECT_TRUE(row.contains("step"));
    } else {
      for (const char* k : {"step", "loss", "lr", "tokens_per_s", "elapsed_s"}) EXPECT_TRUE(row.contains(k)) << k;
      if (train_lines++ == 0) first = row["loss"];
      last = row["loss"];
    }
  }
  EXPECT_EQ(train_lines, 4);
  EXPECT_EQ(eval_lines, 2);
  EXPECT_LT(last, first - 0.5) << "training did not learn";

  // sample: prompt + exactly N characters (+ newline) on stdout, nothing else
  r = run_spectral("sample --checkpoint " + out + "/best.safetensors --prompt 'the cat' --tokens 50 --temperature 0 --threads 1", ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("the cat", 0), 0u);
  EXPECT_EQ(r.out.size(), 7u + 50u + 1u);
  // greedy is deterministic, and the cached and uncached paths agree within the context (32): past
  // it they compute different things (a rebuild from context/2 characters vs a sliding window)
  RunResult again = run_spectral("sample --checkpoint " + out + "/best.safetensors --prompt 'the cat' --tokens 25 --temperature 0 --no-cache", ws.dir);
  EXPECT_EQ(again.out, r.out.substr(0, 7 + 25) + "\n");
  // seeded sampling is reproducible
  RunResult s1 = run_spectral("sample --checkpoint " + out + "/best.safetensors --prompt 'the' --tokens 80 --seed 5 --top-k 5 --top-p 0.9", ws.dir);
  RunResult s2 = run_spectral("sample --checkpoint " + out + "/best.safetensors --prompt 'the' --tokens 80 --seed 5 --top-k 5 --top-p 0.9", ws.dir);
  EXPECT_EQ(s1.code, 0);
  EXPECT_EQ(s1.out, s2.out);

  // eval --json: exactly one JSON object with consistent figures
  const std::string held = ws.dir + "/held.txt";
  spit(held, generated_text(700, 99));
  r = run_spectral("eval --checkpoint " + out + "/best.safetensors --text " + held + " --json --per-char " + ws.dir + "/per.csv", ws.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  json e = json::parse(r.out);
  EXPECT_EQ(e.size(), 4u);
  EXPECT_EQ(e["chars"], 699);
  EXPECT_NEAR(e["bpc"].get<double>(), e["loss"].get<double>() / std::log(2.0), 1e-9);
  EXPECT_NEAR(e["perplexity"].get<double>(), std::exp(e["loss"].get<double>()), 1e-6);
  EXPECT_LT(e["loss"].get<double>(), std::log(14.0));  // better than uniform over the 14 characters
  // per-char CSV: header + one row per scored character, mean equals the reported loss
  std::istringstream csv(slurp(ws.dir + "/per.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "position,character,loss");
  double sum = 0;
  int n = 0;
  while (std::getline(csv, line)) {
    if (line.empty()) continue;  // the newline character's row spans two lines inside quotes
    auto comma = line.rfind(',');
    if (line.back() == '"' || comma == std::string::npos) continue;
    sum += std::stod(line.substr(comma + 1));
    n++;
  }
  EXPECT_EQ(n, 699);
  EXPECT_NEAR(sum / n, e["loss"].get<double>(), 1e-4);
}

TEST(Cli, EvalScoresEveryCharacterOnceWhateverTheStride) {
  Workspace ws("stride");
  const std::string out = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(out, "--set train.steps=10"), ws.dir).code, 0);
  const std::string held = ws.dir + "/held.txt";
  spit(held, generated_text(333, 7));
  double loss_full = 0;
  for (int stride : {32, 16, 5, 1}) {
    RunResult r = run_spectral("eval --checkpoint " + out + "/last.safetensors --text " + held + " --json --stride " + std::to_string(stride), ws.dir);
    ASSERT_EQ(r.code, 0) << r.err;
    json e = json::parse(r.out);
    EXPECT_EQ(e["chars"], 332);
    if (stride == 32) loss_full = e["loss"];
    else EXPECT_LT(e["loss"].get<double>(), loss_full + 0.2);  // more history never hurts much
  }
}

TEST(Cli, SameSeedOneThreadGivesIdenticalLosses) {
  Workspace ws("det");
  ASSERT_EQ(run_spectral(ws.train(ws.dir + "/a"), ws.dir).code, 0);
  ASSERT_EQ(run_spectral(ws.train(ws.dir + "/b"), ws.dir).code, 0);
  auto a = read_jsonl(ws.dir + "/a/metrics.jsonl"), b = read_jsonl(ws.dir + "/b/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i].contains("loss")) {
      EXPECT_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << i;
    }
    if (a[i].contains("val_loss")) {
      EXPECT_EQ(a[i]["val_loss"].get<double>(), b[i]["val_loss"].get<double>()) << i;
    }
  }
  ASSERT_EQ(run_spectral(ws.train(ws.dir + "/c", "--set train.seed=4"), ws.dir).code, 0);
  auto c = read_jsonl(ws.dir + "/c/metrics.jsonl");
  EXPECT_NE(a[0]["loss"].get<double>(), c[0]["loss"].get<double>());
}

TEST(Cli, BadInputGetsAClearErrorAndExitCode2) {
  Workspace ws("bad");
  struct Case {
    std::string args, expect;
  };
  spit(ws.dir + "/notjson.json", "{\"model\": ");
  spit(ws.dir + "/unknown.json", R"({"model": {"widht": 3}})");
  spit(ws.dir + "/empty.txt", "");
  spit(ws.dir + "/latin1.txt", std::string("abc\xe9") + "def");
  const std::string out = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(out, "--set train.steps=5"), ws.dir).code, 0);
  const std::string ck = out + "/last.safetensors";
  for (const Case& c : std::vector<Case>{
           {"train --config " + ws.dir + "/notjson.json --out " + ws.dir + "/x", "not valid JSON"},
           {"train --config " + ws.dir + "/unknown.json --out " + ws.dir + "/x", "model.widht: unknown key"},
           {"train --config " + ws.config + " --set train.steps --out " + ws.dir + "/x", "expected key=value"},
           {"train --config " + ws.config + " --set data.path=" + ws.dir + "/missing.txt --out " + ws.dir + "/x", "missing.txt"},
           {"train --config " + ws.config + " --set data.path=" + ws.dir + "/empty.txt --out " + ws.dir + "/x", "empty"},
           {"train --config " + ws.config + " --set data.path=" + ws.dir + "/latin1.txt --out " + ws.dir + "/x", "byte"},
           {"train --config " + ws.config + " --set data.path=" + ws.text + " --set model.context=5000 --out " + ws.dir + "/x", "model.context"},
           {"sample --checkpoint " + ws.dir + "/nope.safetensors --prompt hi", "nope.safetensors"},
           {"sample --checkpoint " + ck + " --prompt 'the Zebra'", "Z"},
           {"sample --checkpoint " + ck + " --prompt ''", "empty"},
           {"sample --checkpoint " + ck + " --prompt the --tokens 0", "--tokens"},
           {"sample --checkpoint " + ck + " --prompt the --temperature -1", "--temperature"},
           {"sample --checkpoint " + ck + " --prompt the --top-p 1.5", "--top-p"},
           {"sample --checkpoint " + ws.text + " --prompt the", ws.text},
           {"sample --checkpoint " + ck + " --prompt the --samples 0", "--samples"},
           {"sample --checkpoint " + ck + " --prompt the --samples -3", "--samples"},
           {"sample --checkpoint " + ck + " --prompt the --samples 1000000000000", "--samples"},
           {"eval --checkpoint " + ck + " --text " + ws.dir + "/latin1.txt", "byte"},
       }) {
    RunResult r = run_spectral(c.args, ws.dir);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\nstderr: " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
  // --unknown skip drops the character with a warning instead
  RunResult r = run_spectral("sample --checkpoint " + ck + " --prompt 'the Zat' --tokens 5 --unknown skip", ws.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("the at", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("U+005A"), std::string::npos) << r.err;
}

// --samples N through the binary: N = 1 prints byte for byte what plain sample prints; N = 3 prints
// each stream i exactly as plain sample with seed S+i, after its separator line (generating past the
// context of 32, so each stream's window is rebuilt); --json gives one object per sample and line;
// stderr ends with the characters per second.
TEST(Cli, SampleManyStreamsEqualsOneRunPerSeed) {
  Workspace ws("streams");
  const std::string out = ws.dir + "/run";
  ASSERT_EQ(run_spectral(ws.train(out, "--set train.steps=5"), ws.dir).code, 0);
  const std::string base = "sample --checkpoint " + out + "/last.safetensors --prompt 'the' --tokens 70 --top-k 5";
  std::vector<RunResult> plain;
  for (int seed : {5, 6, 7}) {
    plain.push_back(run_spectral(base + " --seed " + std::to_string(seed), ws.dir));
    ASSERT_EQ(plain.back().code, 0) << plain.back().err;
  }
  EXPECT_NE(plain[0].out, plain[1].out);
  RunResult one = run_spectral(base + " --seed 5 --samples 1", ws.dir);
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(one.out, plain[0].out);
  EXPECT_NE(one.err.find("characters/s"), std::string::npos) << one.err;
  RunResult three = run_spectral(base + " --seed 5 --samples 3 --threads 2", ws.dir);
  ASSERT_EQ(three.code, 0) << three.err;
  std::string expect;
  for (int i = 0; i < 3; i++) expect += "=== sample " + std::to_string(i) + " (seed " + std::to_string(5 + i) + ") ===\n" + plain[i].out;
  EXPECT_EQ(three.out, expect);
  EXPECT_NE(three.err.find("210 characters (3 streams x 70)"), std::string::npos) << three.err;
  RunResult js = run_spectral(base + " --seed 5 --samples 3 --json", ws.dir);
  ASSERT_EQ(js.code, 0) << js.err;
  std::istringstream lines(js.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const json j = json::parse(line);
    EXPECT_EQ(j.size(), 3u);
    EXPECT_EQ(j["sample"], n);
    EXPECT_EQ(j["seed"], 5 + n);
    EXPECT_EQ("the" + j["text"].get<std::string>() + "\n", plain[n].out);
    n++;
  }
  EXPECT_EQ(n, 3);
}
