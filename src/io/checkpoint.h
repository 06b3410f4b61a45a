// checkpoint: a model (and optionally its training state) in one .safetensors file. Tensor names
// are the ParamLayout names ("wte", "layers.0.mixer.w_in", ...): the weights that sample and eval
// use. The optimizer's state, when saved, is "optim.m.<name>" and "optim.v.<name>" (AdamW's moments;
// Muon's momentum in m), and, when the weights written are an average (train.ema), the weights
// training continues from are "optim.raw.<name>". __metadata__ holds format, format_version, config (the
// resolved config JSON), vocab (JSON list of code points), step and, for resume, train_state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "data/vocab.h"
#include "model/model.h"

namespace spectral {

constexpr const char* kCheckpointFormat = "spectral";
constexpr int kCheckpointVersion = 1;

struct TrainingState {
  const std::vector<float>* m = nullptr;  // AdamW moments (parameter layout)
  const std::vector<float>* v = nullptr;
  nlohmann::json extra;                   // step counters, rng, best val loss...
  const std::vector<float>* raw = nullptr;  // training's own weights when the file's are their average
};

// Writes atomically (temp file + rename): a crash leaves the old or the new file. The weights are
// `weights` (parameter layout) when given, else model.params.
void save_checkpoint(const std::string& path, const Model<float>& model, const Config& cfg, const Vocab& vocab,
                     int step, const TrainingState* state, const std::vector<float>* weights = nullptr);

struct LoadedCheckpoint {
  Config config;
  Vocab vocab;
  int step = 0;
  std::unique_ptr<Model<float>> model;
  bool has_optimizer = false;
  std::vector<float> m, v;
  std::vector<float> raw;  // "optim.raw.*" (empty when the file has none): the weights to train on
  nlohmann::json train_state;
};

// What load_checkpoint reads: everything (resuming training), or the weights only (generation,
// evaluation): the optimizer state and training weights (optim.*) are then checked in the header
// (names, shapes, completeness) but not read, m, v and raw stay empty, and has_optimizer still says
// whether the file holds them.
enum class CheckpointContent { Everything, WeightsOnly };

// Rebuilds the model from the file alone; every inconsistency is an InputError naming the file.
LoadedCheckpoint load_checkpoint(const std::string& path, CheckpointContent what = CheckpointContent::Everything);

}  // namespace spectral
