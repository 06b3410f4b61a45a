// bench_mixers: `spectral bench mixers` — mixer cost as the sequence grows (the seeds' scaling
// table, extended): forward and forward+backward milliseconds and the activation memory each mixer
// keeps for backward, for T = t_min, 2·t_min, … t_max, plus the floor of a mixer that has one (its
// core op's transforms alone) and the log-log slope of the reference mixer's time against T. The
// mixers, their cases, floors, caps and targets all come from model/mixer_registry.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace spectral::bench {

// The mixer labels the benchmark knows: every registry entry, once per variant ("<name>-<variant>").
const std::vector<std::string>& bench_mixer_names();
// "a,b,..." → labels; a mixer's name alone stands for all of its variants. Throws InputError on
// anything else, and on an empty list.
std::vector<std::string> parse_mixer_list(const std::string& list);
// The list as help text: each name, followed by "(= <its labels>)" when it has variants.
std::string mixer_list_help();

struct MixerBenchOptions {
  int t_min = 128, t_max = 65536;
  int d = 256, batch = 1, heads = 4;
  std::map<std::string, int> knobs;  // the mixers' own bench flags (registry knobs): flag → value
  bool layer = false;                // whole Mixer layer (projections included) instead of the core op
  std::vector<std::string> mixers = bench_mixer_names();
  std::map<std::string, int> cap_t;  // mixers whose cost grows as T²: name → largest T they run at
  double time_cap_s = 60;      // no mixer is run at a T whose forward+backward is predicted (or seen) above this
  bool floor = true;           // measure the floors
  std::string csv;             // raw rows (empty: none)
  TimingOptions timing;
  MixerBenchOptions();         // knobs and caps at the registry's defaults
};

// Runs the benchmark, printing the table and summary on stdout. Returns the exit code.
int run_mixer_bench(const MixerBenchOptions& opt);

}  // namespace spectral::bench
