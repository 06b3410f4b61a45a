// run_directory: what a training run writes, and the rules for it. A fresh run refuses a directory
// that holds another run (unless overwrite, which removes that run's files and only those);
// config.json is the resolved config; metrics.jsonl gets one JSON line per log interval and per
// evaluation (on resume, lines after the checkpoint's step are dropped first); last.safetensors
// (weights, optimizer state, training state: what --resume needs) and best.safetensors (weights at
// the lowest validation loss). With train.ema the weights of both files, the ones sample and eval
// read, are the average; last.safetensors then also holds the raw training weights (optim.raw.*),
// which a resumed run trains on. In a run of several processes only rank 0 has a RunDirectory.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "data/vocab.h"
#include "model/model.h"
#include "train/ema.h"
#include "train/optimizer.h"
#include "train/resume.h"

namespace spectral {

class RunDirectory {
 public:
  // Claims dir for a fresh run (refused or cleared as above) or reopens a resumed run's; creates
  // it if missing. IoError/InputError before anything is written when it cannot be used.
  RunDirectory(const std::string& dir, bool resuming, bool overwrite);

  void write_config(const Config& cfg);
  // Opens metrics.jsonl: truncated for a fresh run; for a resumed one, trimmed to lines up to step.
  void open_metrics(bool resuming, int step);
  void log(const nlohmann::json& line);

  // last.safetensors: everything a resumed run needs. The weights are model.params, or the
  // average's when it is on (model.params then go in as the raw weights).
  void save_last(const Model<float>& model, const Config& cfg, const Vocab& vocab, const Optimizer& optimizer,
                 const WeightAverage& average, const TrainState& state);
  // best.safetensors: `weights` (parameter layout) only.
  void save_best(const Model<float>& model, const Config& cfg, const Vocab& vocab, int step,
                 const std::vector<float>& weights);

  const std::string& dir() const { return dir_; }
  std::string last_path() const { return dir_ + "/last.safetensors"; }

 private:
  std::string dir_;
  std::ofstream metrics_;
};

}  // namespace spectral
