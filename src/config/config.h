// config: the typed run configuration (sections model, train, data), its defaults and their
// documentation (one table in config.cpp), strict JSON loading and dotted --set overrides.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/errors.h"

namespace spectral {

// Any problem with a config or an override; the message names the key path.
struct ConfigError : InputError {
  using InputError::InputError;
};

struct FftConfig {
  bool gate;               // Hyena-style gate: out = Wo·((Wg·x) ⊙ y)
  double kernel_std;       // scale of the initial kernel taps
  double decay_min;        // slowest per-channel decay rate of the initial kernel (per position)
  double decay_max;        // fastest per-channel decay rate of the initial kernel
  int step_block;          // generation: base block of the online convolution; 0 = direct sum of the history
};

struct RotConfig {
  std::string variant;     // lowrank | headphase | dynamic
  int rank;                // lowrank θ width; 0 means d_model/4
};

struct LocalConfig {
  int window;              // keys visible to each query: itself and the window−1 before it
};

struct ModelConfig {
  int d_model;
  int n_layers;
  int n_heads;
  int context;
  std::vector<std::string> mixer;  // one name per layer after resolution
  int mlp_ratio;
  std::string activation = "gelu";  // MLP activation: gelu | relu2
  std::string pos_emb;     // learned | none
  bool tie_embeddings;
  double dropout = 0;  // training only: embedding, mixer and MLP outputs
  bool zero_init_out = false;  // every block's output projections (mixer w_out, mlp.w2) start at zero
  int keep_activations_mib = 256;  // training: keep act(h) and the block norms from forward up to this size
  FftConfig fft;
  RotConfig rot;
  LocalConfig local;
};

struct TrainConfig {
  int batch_size;
  int replicas;  // the process's share of each batch split over this many model copies, one thread each
  int steps;
  double lr;
  double min_lr;
  int warmup_steps;
  double weight_decay;
  double beta1;
  double beta2;
  double grad_clip;
  std::string optimizer;     // adamw | muon (Muon for the hidden matrices, AdamW for the rest)
  double muon_lr;            // Muon's peak rate (its schedule is train.lr's, scaled)
  double muon_momentum;
  double muon_weight_decay;  // Muon's decoupled weight decay
  double ema;                // decay of the weights' moving average; 0 = off
  int eval_interval;
  int eval_batches;
  int log_interval;
  double time_limit_s;
  std::string schedule;  // steps | time: what the cosine decay runs over
  int seed;
  std::string on_nonfinite;  // stop | skip
  int skip_limit;            // skip: stop after this many skipped steps in a row; 0 = never
};

struct DataConfig {
  std::string path;
  double val_fraction;
};

struct Config {
  ModelConfig model;
  TrainConfig train;
  DataConfig data;
};

// The rules config validation does not own: the mixers' (known names, each mixer's keys). Throws
// ConfigError naming the key. The one such check is the mixer registry's; commands load configs
// through load_config_json (model/mixer_registry.h), which passes it.
using MixerCheck = void (*)(const ModelConfig&);

// The defaults of every key (the table in config.cpp).
Config default_config();
// Defaults overlaid with a JSON object; unknown keys and wrong types throw ConfigError naming the
// key path; "_comment" keys are allowed anywhere and ignored. Then validated (with check_mixers).
Config config_from_json(const nlohmann::json& j, MixerCheck check_mixers);
// Reads a JSON file (errors name the file, and line/column for syntax errors).
nlohmann::json read_json_file(const std::string& path);
// Applies "a.b.c=value" (value read as JSON when it parses, else as a string) onto a JSON object.
void apply_override(nlohmann::json& j, const std::string& assignment);
// The fully resolved config as JSON (every key, mixer as a list of n_layers names).
nlohmann::json config_to_json(const Config& c);
// Semantic checks (sizes positive, d_model divisible by n_heads, ...); check_mixers runs after the
// generic model checks.
void validate(const Config& c, MixerCheck check_mixers);
// Helpers for the checks of every section, the mixers' included:
// throws ConfigError "config key <path>: must be positive, got <v>" unless v > 0;
void check_positive(const char* path, double v);
// a user's string for a one-line message: JSON-quoted (control characters escaped), cut to 60.
std::string quote_for_message(const std::string& s);
// One line per key: path, default, description — the documentation of the defaults.
std::string describe_defaults();

}  // namespace spectral
