// resume: what a checkpoint holds so that a run continues exactly where it stopped, and the rules
// for continuing. last.safetensors carries, beside the weights and the optimizer's state (and, with
// train.ema, the raw training weights beside their average: io/checkpoint.h), a train_state
// JSON: step, the batch sampler's RNG (the data position: batches are drawn at random offsets),
// best and last validation loss, the training-loss accumulator of the current metrics interval,
// skip counters, time spent, the number of updates in the weights' average, and a fingerprint of the
// training text. The learning-rate schedule position is the step. The config is the checkpoint's;
// changing it on resume needs --allow-changes (model.* and train.optimizer never change: the
// weights have the model's shapes, the optimizer state belongs to its optimizer).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "io/checkpoint.h"

namespace spectral {

struct TrainState {
  int step = 0;                      // optimizer steps done
  std::string rng;                   // std::mt19937_64 of the batch sampler, as operator<< writes it
  double best_val_loss = INFINITY;   // INFINITY until the first evaluation
  double last_val_loss = NAN;
  double loss_sum = 0;               // training losses since the last metrics line...
  int loss_count = 0;                // ...and how many
  int skipped = 0;                   // steps skipped for a non-finite loss or gradient (on_nonfinite = skip)
  int skipped_in_a_row = 0;
  double train_seconds = 0;          // time in training steps (tokens/s)
  double elapsed_s = 0;              // wall time of the run so far, all sessions
  int ema_updates = 0;               // updates in the weights' average (train.ema; 0 when off)
  uint64_t data_chars = 0;           // training text: characters and fingerprint
  std::string data_fingerprint;
};

nlohmann::json train_state_to_json(const TrainState& s);
// The train_state of a loaded checkpoint; a missing or mistyped field is an InputError naming `where`.
TrainState read_train_state(const LoadedCheckpoint& ck, const std::string& where);

std::string rng_to_string(const std::mt19937_64& rng);
// Throws InputError naming `where` when the text is not an engine state.
std::mt19937_64 rng_from_string(const std::string& text, const std::string& where);

// FNV-1a (64-bit) of the token ids, in hex: notices a training text that changed between sessions.
std::string token_fingerprint(const std::vector<int32_t>& tokens);

struct ResumePlan {
  std::string dir;
  Config config;                     // the checkpoint's config with the allowed changes applied
  LoadedCheckpoint checkpoint;       // DIR/last.safetensors
  TrainState state;
  bool allow_changes = false;
  std::vector<std::string> changes;  // one line per changed key: "train.steps: 200 -> 400"
};

// Loads DIR/last.safetensors (it must hold optimizer and training state), checks that
// DIR/config.json, when present, agrees with the checkpoint's config, and applies `sets`
// ("key=value"). Any change needs allow_changes (each is then logged as a warning); model.* keys
// never change. Errors are InputError/ConfigError with one line saying what to do.
ResumePlan plan_resume(const std::string& dir, const std::vector<std::string>& sets, bool allow_changes);

// Keeps the lines of a metrics.jsonl that a resumed run would otherwise repeat or that a crash left
// half-written out: whole JSON lines with "step" <= step. Rewrites the file atomically if anything
// goes; returns the number of lines dropped. A missing file is left missing.
size_t trim_metrics(const std::string& path, int step);

}  // namespace spectral
