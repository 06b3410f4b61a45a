// bench_command: `spectral bench mixers | train | sample` — the benchmark programs of src/bench/.
// Each prints a table on stdout (progress on stderr) and can write its raw rows with --csv FILE.
// Benchmarks are programs, not tests: they report figures and never fail on a time.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_mixers.h"
#include "bench/bench_sample.h"
#include "bench/bench_train.h"
#include "cli/commands.h"
#include "config/config.h"
#include "model/mixer_registry.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/threads.h"

namespace spectral {

namespace {

std::vector<int> parse_int_list(const std::string& s, const std::string& flag) {
  std::vector<int> out;
  size_t at = 0;
  while (at <= s.size()) {
    size_t comma = s.find(',', at);
    if (comma == std::string::npos) comma = s.size();
    const std::string item = s.substr(at, comma - at);
    at = comma + 1;
    if (item.empty()) continue;
    try {
      size_t used = 0;
      out.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw InputError(flag + ": \"" + item + "\" is not an integer");
    }
  }
  if (out.empty()) throw InputError(flag + ": empty list");
  return out;
}

Config load_config(const std::string& path, const std::vector<std::string>& sets) {
  nlohmann::json j = path.empty() ? nlohmann::json::object() : read_json_file(path);
  for (const auto& s : sets) apply_override(j, s);
  return load_config_json(j);
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, Action* action) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks: mixer scaling, training throughput, sampling speed");
  bench->require_subcommand(1);

  // ---- bench mixers ----
  struct MixArgs {
    bench::MixerBenchOptions o;
    std::string mixers = mixer_names(",");
    int threads = 0;
    bool no_floor = false;
  };
  auto ma = std::make_shared<MixArgs>();
  // what the registry says about the mixers, for the help texts
  std::string with_heads, quadratic, floors;
  for (const auto& s : mixers()) {
    if (std::find(s.keys.begin(), s.keys.end(), "model.n_heads") != s.keys.end())
      with_heads += (with_heads.empty() ? "" : ", ") + s.name;
    if (s.bench.quadratic_cap_t > 0) quadratic += (quadratic.empty() ? "" : ", ") + s.name;
    if (s.bench.floor) floors += (floors.empty() ? "" : ", ") + s.bench.floor_label;
  }
  CLI::App* mix = bench->add_subcommand("mixers", "Mixer forward / forward+backward time and saved memory as T grows");
  mix->add_option("--t-min", ma->o.t_min, "Smallest sequence length T")->capture_default_str();
  mix->add_option("--t-max", ma->o.t_max, "Largest T (T doubles from --t-min)")->capture_default_str();
  mix->add_option("--d", ma->o.d, "Channels d")->capture_default_str();
  mix->add_option("--batch", ma->o.batch, "Sequences per call B")->capture_default_str();
  mix->add_option("--heads", ma->o.heads, "Heads, model.n_heads (" + with_heads + ")")->capture_default_str();
  for (const auto& s : mixers())
    for (const auto& k : s.bench.knobs)
      mix->add_option("--" + k.flag, ma->o.knobs[k.flag], k.help)->capture_default_str();
  mix->add_option("--mixers", ma->mixers, "Comma list of " + bench::mixer_list_help() + ", or single variants")
      ->capture_default_str();
  mix->add_flag("--layer", ma->o.layer, "Time the whole Mixer layer (projections included), not the core op");
  mix->add_option("--repeats", ma->o.timing.repeats, "Timed runs per figure (at least; more for very short ones)")
      ->capture_default_str();
  mix->add_option("--warmup", ma->o.timing.warmup, "Untimed runs before each figure")->capture_default_str();
  mix->add_option("--budget-s", ma->o.timing.budget_s,
                  "Stop repeating a figure after this many seconds once 3 runs are done")
      ->capture_default_str();
  for (const auto& s : mixers())
    if (s.bench.quadratic_cap_t > 0)
      mix->add_option("--" + s.name + "-cap-t", ma->o.cap_t[s.name], "Largest T at which " + s.name + " runs")
          ->capture_default_str();
  mix->add_option("--time-cap-s", ma->o.time_cap_s,
                  "Skip a mixer at any T whose forward+backward would take longer than this (predicted from the "
                  "previous T: x4 per doubling for " + quadratic + ", x2.4 for the others)")
      ->capture_default_str();
  mix->add_flag("--no-floor", ma->no_floor, "Skip the floor measurement (" + floors + ")");
  mix->add_option("--csv", ma->o.csv, "Write the raw rows to this CSV file");
  add_threads_option(mix, &ma->threads);

  // ---- bench train ----
  struct TrainArgs {
    bench::TrainBenchOptions o;
    std::string config;
    std::vector<std::string> sets;
    int threads = 0;
    bool no_replay = false;
  };
  auto ta = std::make_shared<TrainArgs>();
  CLI::App* train = bench->add_subcommand("train", "Training tokens/s, ms/step, GFLOP/s and fraction of the sgemm peak");
  train->add_option("--config", ta->config, "JSON config (as for spectral train); keys not given keep their defaults");
  train->add_option("--set", ta->sets, "Override a config key: --set model.d_model=256 (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  train->add_option("--steps", ta->o.steps, "Timed training steps")->capture_default_str();
  train->add_option("--warmup", ta->o.warmup, "Untimed steps first")->capture_default_str();
  train->add_option("--vocab", ta->o.vocab, "Vocabulary size of the random tokens")->capture_default_str();
  train->add_option("--peak-n", ta->o.peak_n, "Size n of the n×n sgemm that measures the peak")->capture_default_str();
  train->add_option("--csv", ta->o.csv, "Write the figures to this CSV file (one row)");
  train->add_flag("--no-replay", ta->no_replay,
                  "Skip replaying the step's matrix products alone (their buffers, up to the largest product's "
                  "operands, would count in the process's peak memory: use it when measuring memory)");
  add_threads_option(train, &ta->threads);

  // ---- bench sample ----
  struct SampleArgs {
    bench::SampleBenchOptions o;
    std::string config, positions = "100,1900", mixers;
    std::vector<std::string> sets;
    int threads = 0;
    bool no_full = false;
  };
  auto sa = std::make_shared<SampleArgs>();
  CLI::App* sample = bench->add_subcommand("sample", "Generation speed with and without the incremental state");
  auto* ck = sample->add_option("--checkpoint", sa->o.checkpoint, "Checkpoint (.safetensors) to generate from");
  auto* cf = sample->add_option("--config", sa->config, "JSON config: random init (speed does not depend on weights)");
  ck->excludes(cf);
  sample->add_option("--set", sa->sets, "Override a config key (with --config): --set model.context=2048")
      ->take_all()
      ->allow_extra_args(false);
  sample->add_option("--mixers", sa->mixers,
                     "With --config: run once per mixer of this comma list (" + bench::mixer_list_help() +
                         ", or single variants) instead of the configured one");
  sample->add_option("--vocab", sa->o.vocab, "Vocabulary size with --config")->capture_default_str();
  sample->add_option("--tokens", sa->o.tokens, "Characters to generate per mode")->capture_default_str();
  sample->add_option("--positions", sa->positions, "Positions (comma list) at which to report the time per character")
      ->capture_default_str();
  sample->add_option("--around", sa->o.around, "Median over positions p-around .. p+around")->capture_default_str();
  sample->add_flag("--no-full", sa->no_full, "Measure only the incremental mode");
  sample->add_option("--csv", sa->o.csv, "Write the raw rows to this CSV file");
  sample->add_option("--prompt", sa->o.prompt, "Also time a prompt of this many characters (time to the first character)")
      ->check(CLI::NonNegativeNumber);
  sample->add_flag("--prompt-stepwise", sa->o.prompt_stepwise, "With --prompt: also time feeding it step by step");
  sample->add_option("--streams", sa->o.streams,
                     "Also generate --tokens characters in each of this many streams at once (aggregate chars/s; 0 = skip)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_threads_option(sample, &sa->threads);

  *action = [=]() -> int {
    // every output path is checked before any measurement
    auto check_csv = [](const std::string& csv) {
      if (!csv.empty()) check_output_file(csv, "--csv " + csv);
    };
    if (mix->parsed()) {
      check_csv(ma->o.csv);
      set_threads(ma->threads);
      ma->o.mixers = bench::parse_mixer_list(ma->mixers);
      ma->o.floor = !ma->no_floor;
      return bench::run_mixer_bench(ma->o);
    }
    if (train->parsed()) {
      check_csv(ta->o.csv);
      ta->o.cfg = load_config(ta->config, ta->sets);
      ta->o.replay = !ta->no_replay;
      set_threads(ta->threads);
      return bench::run_train_bench(ta->o);
    }
    if (sample->parsed()) {
      check_csv(sa->o.csv);
      if (ck->count() == 0 && cf->count() == 0) throw InputError("bench sample: give --checkpoint FILE or --config FILE");
      if (ck->count() && (!sa->sets.empty() || !sa->mixers.empty()))
        throw InputError("bench sample: --set and --mixers apply to --config only");
      if (cf->count()) {
        sa->o.cfg = load_config(sa->config, sa->sets);
        sa->o.have_config = true;
        if (!sa->mixers.empty()) sa->o.mixers = bench::parse_mixer_list(sa->mixers);
      }
      sa->o.positions = parse_int_list(sa->positions, "--positions");
      sa->o.full = !sa->no_full;
      set_threads(sa->threads);
      return bench::run_sample_bench(sa->o);
    }
    return 2;
  };
  return bench;
}

}  // namespace spectral
