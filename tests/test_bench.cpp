// The bench subcommands through the binary at tiny sizes: table and CSV structure, every figure
// positive and finite, caps reported. No timing assertions (benchmarks report, tests check behaviour).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <vector>

#include "cli_runner.h"

using namespace spectral::testing;

namespace {

using Rows = std::vector<std::map<std::string, std::string>>;

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// Header + rows, each row checked to have as many fields as the header.
Rows read_csv(const std::string& path, std::vector<std::string>* header = nullptr) {
  std::istringstream in(slurp(path));
  std::string line;
  Rows rows;
  if (!std::getline(in, line)) return rows;
  const std::vector<std::string> head = split_csv_line(line);
  if (header) *header = head;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto f = split_csv_line(line);
    EXPECT_EQ(f.size(), head.size()) << line;
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < head.size() && i < f.size(); i++) r[head[i]] = f[i];
    rows.push_back(r);
  }
  return rows;
}

double positive(const std::map<std::string, std::string>& row, const std::string& key) {
  auto it = row.find(key);
  EXPECT_NE(it, row.end()) << key;
  if (it == row.end()) return NAN;
  double v = NAN;
  try {
    v = std::stod(it->second);
  } catch (...) {
    ADD_FAILURE() << key << " = \"" << it->second << "\" is not a number";
  }
  EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << it->second;
  return v;
}

const char* kTiny = R"({
  "model": {"d_model": 16, "n_layers": 2, "n_heads": 2, "context": 48, "mixer": "fft", "mlp_ratio": 2},
  "train": {"batch_size": 2, "steps": 5, "warmup_steps": 1, "eval_interval": 5, "eval_batches": 1, "log_interval": 5}
})";

}  // namespace

TEST(Bench, MixersTableCsvAndAttentionCap) {
  const std::string dir = temp_dir("bench-mixers");
  const std::string csv = dir + "/mixers.csv";
  RunResult r = run_spectral("bench mixers --t-min 16 --t-max 64 --d 16 --heads 2 --window 8 --repeats 2 --warmup 1 "
                             "--budget-s 0.005 --attention-cap-t 32 --threads 1 --csv " + csv, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("machine: nproc"), std::string::npos) << r.out;
  for (const char* col : {"fwd ms", "fwd+bwd ms", "saved MiB", "FFT floor ms", "fft/floor"})
    EXPECT_NE(r.out.find(col), std::string::npos) << col << "\n" << r.out;
  EXPECT_NE(r.out.find("log-log slope"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped: T > cap 32"), std::string::npos) << r.out;

  std::vector<std::string> header;
  const Rows rows = read_csv(csv, &header);
  ASSERT_FALSE(header.empty());
  EXPECT_EQ(header[0], "mode");
  ASSERT_EQ(rows.size(), 3u * 6u);  // T = 16, 32, 64 × six mixers
  std::map<std::string, int> seen;
  for (const auto& row : rows) {
    seen[row.at("mixer")]++;
    EXPECT_EQ(row.at("mode"), "core");
    positive(row, "saved_bytes");
    positive(row, "core_saved_bytes");
    if (row.at("mixer") == "attention" && row.at("T") == "64") {
      EXPECT_EQ(row.at("status").rfind("skipped", 0), 0u) << row.at("status");
      EXPECT_EQ(row.at("fwd_ms"), "");
      continue;
    }
    EXPECT_EQ(row.at("status"), "ok") << row.at("mixer") << " T=" << row.at("T");
    const double f = positive(row, "fwd_ms"), fb = positive(row, "fwdbwd_ms");
    (void)f;
    (void)fb;
    positive(row, "fwd_samples");
    if (row.at("mixer") == "fft") {
      positive(row, "fft_floor_ms");
      positive(row, "fwd_over_floor");
    } else {
      EXPECT_EQ(row.at("fft_floor_ms"), "");
    }
  }
  for (const char* m : {"attention", "local", "fft", "rot-lowrank", "rot-headphase", "rot-dynamic"})
    EXPECT_EQ(seen[m], 3) << m;
}

TEST(Bench, MixersWholeLayer) {
  const std::string dir = temp_dir("bench-layer");
  const std::string csv = dir + "/layer.csv";
  RunResult r = run_spectral("bench mixers --layer --mixers fft,rot --t-min 16 --t-max 32 --d 16 --heads 2 --repeats 2 "
                             "--budget-s 0.005 --no-floor --threads 1 --csv " + csv, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const Rows rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 2u * 4u);  // fft + three rot variants
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("mode"), "layer");
    EXPECT_EQ(row.at("status"), "ok");
    positive(row, "fwd_ms");
    positive(row, "fwdbwd_ms");
    positive(row, "saved_bytes");
    EXPECT_EQ(row.at("fft_floor_ms"), "");
  }
}

TEST(Bench, MixersRejectsUnknownNames) {
  const std::string dir = temp_dir("bench-bad");
  RunResult r = run_spectral("bench mixers --mixers fft,transformer --t-max 128", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("transformer"), std::string::npos) << r.err;
  r = run_spectral("bench", dir);
  EXPECT_EQ(r.code, 2);  // a bench subcommand is required
}

TEST(Bench, TrainFiguresAndPeak) {
  const std::string dir = temp_dir("bench-train");
  const std::string cfg = dir + "/tiny.json", csv = dir + "/train.csv";
  spit(cfg, kTiny);
  RunResult r = run_spectral("bench train --config " + cfg +
                                 " --set 'model.mixer=[\"fft\",\"rot\"]' --steps 2 --warmup 1 --peak-n 64 --threads 1 "
                                 "--csv " + csv,
                             dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"machine: nproc", "tokens/s", "ms/step", "achieved GFLOP/s", "sgemm peak GFLOP/s",
                        "fraction of peak", "FLOPs counted per step", "1x fft", "1x rot/lowrank",
                        "products alone ms", "everything else ms"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const Rows rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 1u);
  for (const char* k : {"ms_per_step", "tokens_per_s", "gflop_per_step", "gflops", "peak_gflops", "fraction_of_peak",
                        "forward_ms", "backward_ms", "update_ms", "products_alone_ms", "products_gflop"})
    positive(rows[0], k);
  // the recorded products are exactly the dense products the FLOP count assumes (neither the fft
  // nor the rot core is a matrix product): forward and both halves of the backward of every one
  EXPECT_NEAR(std::stod(rows[0].at("products_gflop")), std::stod(rows[0].at("dense_gflop")),
              1e-5 * std::stod(rows[0].at("dense_gflop")));
  EXPECT_EQ(rows[0].at("T"), "48");
  EXPECT_EQ(rows[0].at("B"), "2");
  EXPECT_EQ(rows[0].at("V"), "65");
  // --no-replay: the same figures without the products' replay (whose buffers count in peak memory)
  RunResult nr = run_spectral("bench train --config " + cfg + " --steps 1 --warmup 0 --peak-n 64 --threads 1 --no-replay", dir);
  ASSERT_EQ(nr.code, 0) << nr.err;
  EXPECT_NE(nr.out.find("fraction of peak"), std::string::npos) << nr.out;
  EXPECT_EQ(nr.out.find("products alone"), std::string::npos) << nr.out;
  // tokens/s and ms/step describe the same steps
  const double tps = std::stod(rows[0].at("tokens_per_s")), ms = std::stod(rows[0].at("ms_per_step"));
  EXPECT_NEAR(tps * ms / 1e3, 2.0 * 48, 1e-3 * 96);
}

// The step benchmarked is the one train.optimizer trains with.
TEST(Bench, TrainUsesTheConfiguredOptimizer) {
  const std::string dir = temp_dir("bench-train-muon");
  const std::string cfg = dir + "/tiny.json";
  spit(cfg, kTiny);
  RunResult r = run_spectral("bench train --config " + cfg + " --set train.optimizer=muon --steps 1 --warmup 0 --peak-n 64 --threads 1", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Muon (AdamW for the rest)"), std::string::npos) << r.out;
  r = run_spectral("bench train --config " + cfg + " --steps 1 --warmup 0 --peak-n 64 --threads 1", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("Muon"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+ AdamW (as train/trainer)"), std::string::npos) << r.out;
}

// With train.replicas the step is the replicas' (forward and backward timed together, no replay);
// a batch they do not divide is refused.
TEST(Bench, TrainWithReplicas) {
  const std::string dir = temp_dir("bench-train-replicas");
  const std::string cfg = dir + "/tiny.json", csv = dir + "/train.csv";
  spit(cfg, kTiny);
  RunResult r = run_spectral("bench train --config " + cfg + " --set train.replicas=2 --steps 2 --warmup 1 --peak-n 64 "
                             "--threads 2 --csv " + csv, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"2 replicas x 1 sequences", "forward+backward ms", "tokens/s", "fraction of peak"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.out.find("products alone"), std::string::npos) << r.out;
  const Rows rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 1u);
  for (const char* k : {"ms_per_step", "tokens_per_s", "backward_ms", "update_ms"}) positive(rows[0], k);
  EXPECT_EQ(rows[0].at("forward_ms"), "");
  r = run_spectral("bench train --config " + cfg + " --set train.batch_size=3 --set train.replicas=3 --set "
                   "model.mixer=rot --steps 1 --warmup 0 --peak-n 64 --threads 1", dir);
  EXPECT_EQ(r.code, 0) << r.err;  // three replicas on one thread: slower, still the same step
  r = run_spectral("bench train --config " + cfg + " --set train.replicas=3 --steps 1 --warmup 0 --peak-n 64", dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("train.replicas"), std::string::npos) << r.err;
}

TEST(Bench, SampleBothModesPerMixer) {
  const std::string dir = temp_dir("bench-sample");
  const std::string cfg = dir + "/tiny.json", csv = dir + "/sample.csv";
  spit(cfg, kTiny);
  RunResult r = run_spectral("bench sample --config " + cfg + " --mixers fft,local,rot-dynamic --tokens 40 "
                             "--positions 5,30 --around 2 --threads 1 --streams 3 --csv " + csv, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"chars/s", "ms/char @5", "ms/char @30", "@30 / @5", "slowest char ms", "full/incr @30",
                        "incremental", "full window", "aggregate chars/s", "vs 1 stream"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const Rows rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& row : rows) {
    positive(row, "chars_per_s");
    positive(row, "ms_at_5");
    positive(row, "ms_at_30");
    EXPECT_EQ(row.at("context"), "48");
    // the ratio of the two positions, and the slowest character is at least as slow as either
    const double at5 = std::stod(row.at("ms_at_5")), at30 = std::stod(row.at("ms_at_30"));
    EXPECT_NEAR(std::stod(row.at("ratio_last_first")), at30 / at5, 1e-4 * at30 / at5);
    EXPECT_GE(std::stod(row.at("slowest_ms")), std::max(at5, at30) * (1 - 1e-5));
    const int slowest_at = std::stoi(row.at("slowest_at"));
    EXPECT_TRUE(slowest_at >= 1 && slowest_at < 40) << slowest_at;
  }
  // positions must lie inside the generated characters
  r = run_spectral("bench sample --config " + cfg + " --tokens 40 --positions 5,40", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("position 40"), std::string::npos) << r.err;
}

TEST(Bench, SampleFromCheckpoint) {
  const std::string dir = temp_dir("bench-ckpt");
  const std::string cfg = dir + "/tiny.json", text = dir + "/text.txt";
  spit(cfg, kTiny);
  spit(text, generated_text(4000));
  RunResult r = run_spectral("train --config " + cfg + " --set data.path=" + text + " --out " + dir +
                                 "/run --threads 1 --no-progress",
                             dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_spectral("bench sample --checkpoint " + dir + "/run/last.safetensors --tokens 30 --positions 10,20 --no-full "
                   "--threads 1", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("checkpoint"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("full window"), std::string::npos) << r.out;
  // --set belongs to --config
  r = run_spectral("bench sample --checkpoint " + dir + "/run/last.safetensors --set model.context=64", dir);
  EXPECT_EQ(r.code, 2);
}
