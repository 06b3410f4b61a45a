// bench_mixers: `spectral bench mixers` — mixer cost as the sequence grows (the seeds' scaling
// table, extended): forward and forward+backward milliseconds and the activation memory each mixer
// keeps for backward, for T = t_min, 2·t_min, … t_max, plus the FFT floor of the `fft` mixer (its
// two FFTW transform batches alone) and the log-log slope of fft time against T.
#pragma once

#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace spectral::bench {

// Mixer names the benchmark knows: attention, local, fft, rot-lowrank, rot-headphase, rot-dynamic.
const std::vector<std::string>& bench_mixer_names();
// "attention,fft,rot" → the names above ("rot" = its three variants); throws InputError on others.
std::vector<std::string> parse_mixer_list(const std::string& list);

struct MixerBenchOptions {
  int t_min = 128, t_max = 65536;
  int d = 256, batch = 1, heads = 4;
  int window = 128;            // `local`
  bool layer = false;          // whole Mixer layer (projections included) instead of the core op
  std::vector<std::string> mixers = bench_mixer_names();
  int attention_cap_t = 16384; // attention is not run above this T
  double time_cap_s = 60;      // no mixer is run at a T whose forward+backward is predicted (or seen) above this
  bool floor = true;           // measure the FFT floor for `fft`
  std::string csv;             // raw rows (empty: none)
  TimingOptions timing;
};

// Runs the benchmark, printing the table and summary on stdout. Returns the exit code.
int run_mixer_bench(const MixerBenchOptions& opt);

}  // namespace spectral::bench
