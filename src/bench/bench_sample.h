// bench_sample: `spectral bench sample` — generation speed with the incremental state (Model::step)
// and without it (a full forward over the window per character, sampler's --no-cache path):
// characters/second over N characters and the time per character around chosen positions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace spectral::bench {

struct SampleBenchOptions {
  // exactly one of: a checkpoint, or a config (random init, vocabulary `vocab`)
  std::string checkpoint;
  bool have_config = false;
  Config cfg;
  std::vector<std::string> mixers;  // config mode: run once per name (bench mixer names); empty = as configured
  int vocab = 65;
  int tokens = 2000;
  std::vector<int> positions = {100, 1900};
  int around = 5;                   // median over positions p-around .. p+around
  bool full = true;                 // also measure the no-cache mode
  std::string csv;
};

int run_sample_bench(const SampleBenchOptions& opt);

}  // namespace spectral::bench
