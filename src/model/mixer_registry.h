// mixer_registry: THE list of sequence mixers. One MixerSpec per mixer says what the rest of the
// code needs to know about it: its name and variants, the config keys it reads and the rules it adds
// to config validation, how to build its layer, and what the benchmarks need (FLOPs, the values its
// core op saves, its core op on random inputs, its summary targets). Config loading, the model,
// `spectral bench` and `spectral train --help-config` read this list; no file outside a mixer's own
// names a mixer. Adding one: docs/adding-a-mixer.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "model/mixer.h"

namespace spectral {

// FLOPs of one layer in a training step on B sequences of length T (counted as bench/bench_train.cpp
// explains): the dense products of its projections, forward only (2·M·N·K each; the bench counts
// backward as twice that), and its core op, forward + backward.
struct MixerFlops {
  double dense = 0;
  double core = 0;
};

// Something `spectral bench mixers` times: forward(), then backward() reading what the last
// forward() saved. It owns its buffers, filled with random values when it is made.
class BenchCase {
 public:
  virtual ~BenchCase() = default;
  virtual void forward() = 0;
  virtual void backward() = 0;
};
// Makes a case for the mixer configured in cfg at T = cfg.context, batch B.
using BenchCaseMaker = std::unique_ptr<BenchCase> (*)(const ModelConfig& cfg, int B, std::mt19937_64& rng);

// A flag of `spectral bench mixers` that sets one of a mixer's config values (e.g. --window).
struct BenchKnob {
  std::string flag;   // without the dashes
  std::string help;
  std::string label;  // in the bench's header line: "<label>=<value>"
  int value = 0;      // the bench's default
  void (*apply)(ModelConfig& cfg, int value) = nullptr;
};

// A figure of `spectral bench mixers`' summary line (the headline figures of a mixer).
struct BenchTarget {
  enum Kind {
    ForwardMs,       // "<label> forward at T=<T>: <ms> ms[ (<text>)]", for each of the mixer's labels
    FloorRatio,      // "<label> forward at T=<T>: <ms> ms, <floor label> <ms> ms, ratio <r>[ (<text>)]"
    ReferenceRatio,  // "<label>/<reference> forward at T=<T>: <r>x[ (<text>)]"
  };
  Kind kind = ForwardMs;
  int T = 0;
  std::string text;  // a note after the figure, in parentheses; "" for none
};

// What the benchmarks need of a mixer.
struct MixerBench {
  MixerFlops (*flops)(const ModelConfig& cfg, int B, int T) = nullptr;
  // Values the core op saves for backward at batch B and T = cfg.context (4 bytes each in float).
  size_t (*core_saved_values)(const ModelConfig& cfg, int B) = nullptr;
  BenchCaseMaker core = nullptr;  // the core op alone (no projections)
  // Optional: a floor the core op's forward is compared with (what it cannot be faster than).
  std::string floor_label;
  BenchCaseMaker floor = nullptr;
  // The mixer the quadratic ones are compared with; `bench mixers` reports its log-log slope.
  bool reference = false;
  // > 0: the cost grows as T²; `bench mixers` runs it up to this T by default (flag --<name>-cap-t)
  // and predicts ×4 per doubling of T.
  int quadratic_cap_t = 0;
  std::vector<BenchKnob> knobs;
  std::vector<BenchTarget> targets;
  std::string sample_target;  // `bench sample`: a note after the incremental growth figure ("" for none)
};

struct MixerSpec {
  std::string name;     // the value of model.mixer
  std::string summary;  // one line for --help-config
  // The config keys it reads besides the generic model.d_model and model.context (each documented,
  // with its default, in the key table of config/config.cpp).
  std::vector<std::string> keys;
  // Variants: empty, or the values the key variant_key may take (its default is the table's).
  std::vector<std::string> variants;
  std::string variant_key;
  std::string (*variant_of)(const ModelConfig& cfg) = nullptr;
  void (*set_variant)(ModelConfig& cfg, const std::string& variant) = nullptr;
  // The mixer's config rules; throws ConfigError naming the key. It runs for every config (its keys
  // exist whether or not a layer uses it); `used` says whether some layer does (for the rules that
  // matter only to a built layer).
  void (*check)(const ModelConfig& cfg, bool used) = nullptr;
  std::unique_ptr<Mixer<float>> (*make_float)(const ModelConfig& cfg) = nullptr;
  std::unique_ptr<Mixer<double>> (*make_double)(const ModelConfig& cfg) = nullptr;
  // A layer in a one-line model description (bench train: "rot/lowrank", "local/w64"); null: the
  // name, "/<variant>" added when there are variants.
  std::string (*describe)(const ModelConfig& cfg) = nullptr;
  MixerBench bench;
};

// Every mixer, in the order help and messages list them.
const std::vector<MixerSpec>& mixers();
// The entry named name, or nullptr.
const MixerSpec* find_mixer(const std::string& name);
// The names joined by sep: "fft, rot, attention, local".
std::string mixer_names(const std::string& sep);

// ---- config --------------------------------------------------------------------------------
// The registry's config rules (config.h's MixerCheck): every layer's name is known ("config key
// model.mixer[i]: unknown mixer "x" (known: ...)"), then every entry's check.
void check_mixers(const ModelConfig& m);
// How every command loads a config: config_from_json with check_mixers.
Config load_config_json(const nlohmann::json& j);
// validate with check_mixers.
void validate_config(const Config& c);
// --help-config's list of the mixers: name, summary, variants, the keys each reads and their defaults.
std::string describe_mixers();

// ---- layers --------------------------------------------------------------------------------
// Parameters of one layer of the mixer `name` under cfg (its declared tensors, counted).
int64_t mixer_param_count(const std::string& name, const ModelConfig& cfg);
// A layer's one-line description (MixerSpec::describe).
std::string describe_layer(const std::string& name, const ModelConfig& cfg);

// ---- labels ---------------------------------------------------------------------------------
// A mixer with variants is benchmarked once per variant: its labels are "<name>-<variant>"; one
// without has one label, its name.
std::vector<std::string> mixer_labels(const MixerSpec& spec);
std::vector<std::string> all_mixer_labels();
// The label of layer mixer `name` as cfg configures it ("rot" → "rot-lowrank").
std::string mixer_label(const std::string& name, const ModelConfig& cfg);
// The entry a label belongs to (nullptr if none); *variant gets its variant ("" without).
const MixerSpec* find_mixer_label(const std::string& label, std::string* variant);
// Every layer of cfg becomes the mixer of label (with its variant). Throws std::invalid_argument
// for an unknown label.
void set_mixer_label(ModelConfig& cfg, const std::string& label);

}  // namespace spectral
