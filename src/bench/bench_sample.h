// bench_sample: `spectral bench sample` — generation speed with the incremental state (Model::step)
// and without it (a full forward over the window per character, sampler's --no-cache path):
// characters/second over N characters and the time per character around chosen positions; with a
// prompt length, the time to the first character after that prompt (prefill, or step by step); with
// streams > 1, the aggregate characters/second of that many continuations stepped together
// (generate_streams: matrix products over the streams' rows).
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
  // > 0: also time a prompt of this many characters: the time to the first generated character (the
  // prefill) and the time per character after it; prompt_stepwise also times feeding it step by step
  int prompt = 0;
  bool prompt_stepwise = false;
  // > 1: also generate `tokens` characters in each of this many streams at once (0 or 1: skip)
  int streams = 64;
};

int run_sample_bench(const SampleBenchOptions& opt);

}  // namespace spectral::bench
