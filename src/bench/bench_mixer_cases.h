// bench_mixer_cases: what `spectral bench mixers` times for one mixer label at one T — the mixer's
// core op (its registry entry's case), the whole Mixer layer, or the core op's floor — and the
// memory figures of its rows. Everything mixer-specific comes from model/mixer_registry.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <utility>

#include "bench/bench_mixers.h"
#include "model/mixer_registry.h"

namespace spectral::bench {

// The config of one row: the defaults with d_model = d, n_heads = heads, context = T, one layer of
// the label's mixer (and variant), the mixers' knobs applied.
ModelConfig mixer_bench_config(const std::string& label, int T, const MixerBenchOptions& o);

// The core op (or, with o.layer, the whole Mixer layer) of label at T, batch o.batch.
std::unique_ptr<BenchCase> make_mixer_case(const std::string& label, int T, const MixerBenchOptions& o,
                                           std::mt19937_64& rng);
// The label's floor at T, or nullptr when its mixer has none.
std::unique_ptr<BenchCase> make_floor_case(const std::string& label, int T, const MixerBenchOptions& o,
                                           std::mt19937_64& rng);

// Saved and scratch arena bytes of the Mixer layer at (B, T), from its bind(); {-1, -1} when the
// arenas cannot even be reserved (allocate() asks for the memory; untouched pages cost nothing).
std::pair<double, double> layer_arena_bytes(const std::string& label, int B, int T, const MixerBenchOptions& o);
// Bytes the core op alone saves for backward at (B, T).
double core_saved_bytes(const std::string& label, int B, int T, const MixerBenchOptions& o);

}  // namespace spectral::bench
