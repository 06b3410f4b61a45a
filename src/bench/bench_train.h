// bench_train: `spectral bench train` — training throughput of a configured model on random tokens
// (tokens/s, ms/step, achieved GFLOP/s of forward+backward+AdamW) against the sgemm peak measured
// in the same command on the same threads.
#pragma once

#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "config/config.h"

namespace spectral::bench {

// FLOPs of one training step (forward + backward), counted analytically; see bench_train.cpp.
struct FlopCount {
  double matmul = 0;     // dense products (projections, MLP, LM head), forward + backward
  double mixer_core = 0; // the mixers' core ops (each registry entry's count), forward + backward
  double total() const { return matmul + mixer_core; }
  std::vector<std::string> notes;  // what was counted, one line per part
};
FlopCount count_train_flops(const ModelConfig& mc, int V, int B, int T);

struct TrainBenchOptions {
  Config cfg;
  int vocab = 65;
  int steps = 20;
  int warmup = 3;
  int peak_n = 1024;
  bool replay = true;  // replay the step's products alone (its buffers count in the process's peak memory)
  uint64_t seed = 1;
  std::string csv;
};

int run_train_bench(const TrainBenchOptions& opt);

}  // namespace spectral::bench
