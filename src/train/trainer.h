// trainer: one training run — data, model, AdamW, schedule, periodic evaluation, metrics.jsonl,
// progress line, checkpoints (last.safetensors every evaluation and at the end, best.safetensors at
// the lowest validation loss).
#pragma once

#include <string>

#include "config/config.h"

namespace spectral {

struct TrainOptions {
  std::string out_dir;      // created if missing; config.json, metrics.jsonl, *.safetensors go here
  bool progress = true;     // progress line on stderr
};

struct TrainSummary {
  int steps_done = 0;
  double final_train_loss = 0;
  double best_val_loss = 0;
  double last_val_loss = 0;
  double elapsed_s = 0;
  double tokens_per_s = 0;
};

TrainSummary run_training(const Config& cfg, const TrainOptions& opt);

}  // namespace spectral
