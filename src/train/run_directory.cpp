// run_directory: output directory policy, config.json, metrics.jsonl and the two checkpoints.
#include "train/run_directory.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <vector>

#include "io/checkpoint.h"
#include "util/errors.h"
#include "util/files.h"

namespace spectral {

namespace {

// The output directory exists and is a directory afterwards, or IoError says why not.
void prepare_output_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw IoError("output directory " + dir + ": exists and is not a directory");
  fs::create_directories(dir, ec);
  if (ec) throw IoError("output directory " + dir + ": cannot be created: " + ec.message());
}

// A fresh run must not silently replace another: an output directory holding a run's files is
// refused unless --overwrite, which deletes those files (and only those) first.
void claim_output_dir(const std::string& dir, bool overwrite) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  std::error_code ec;
  for (const char* name : {"metrics.jsonl", "last.safetensors", "best.safetensors", "config.json"})
    if (fs::exists(fs::path(dir) / name, ec)) found.push_back(name);
  if (found.empty()) return;
  std::string list;
  for (size_t i = 0; i < found.size(); i++) list += (i ? ", " : "") + found[i];
  if (!overwrite)
    throw InputError("--out " + dir + ": already holds a run (" + list + "); continue it with --resume " + dir +
                     ", choose another --out, or replace it with --overwrite");
  for (const auto& name : found) {
    fs::remove(fs::path(dir) / name, ec);
    if (ec) throw IoError("--out " + dir + ": cannot remove " + name + " of the previous run: " + ec.message());
  }
  spdlog::warn("--overwrite: removed {} of the previous run in {}", list, dir);
}

}  // namespace

RunDirectory::RunDirectory(const std::string& dir, bool resuming, bool overwrite) : dir_(dir) {
  if (!resuming) claim_output_dir(dir, overwrite);
  prepare_output_dir(dir);
}

void RunDirectory::write_config(const Config& cfg) {
  write_text_file_atomic(dir_ + "/config.json", config_to_json(cfg).dump(2) + "\n");
}

void RunDirectory::open_metrics(bool resuming, int step) {
  const std::string path = dir_ + "/metrics.jsonl";
  if (resuming) {
    const size_t dropped = trim_metrics(path, step);
    if (dropped) spdlog::warn("resume: dropped {} lines of {} written after step {} (or cut short)", dropped, path, step);
  }
  metrics_.open(path, resuming ? std::ios::app : std::ios::trunc);
  if (!metrics_) throw IoError("output " + path + ": cannot be written");
}

void RunDirectory::log(const nlohmann::json& line) {
  metrics_ << line.dump() << "\n";
  metrics_.flush();
}

void RunDirectory::save_last(const Model<float>& model, const Config& cfg, const Vocab& vocab,
                             const Optimizer& optimizer, const WeightAverage& average, const TrainState& state) {
  const bool avg = average.on();
  TrainingState ts{&optimizer.m(), &optimizer.v(), train_state_to_json(state), avg ? &model.params : nullptr};
  save_checkpoint(last_path(), model, cfg, vocab, state.step, &ts, avg ? &average.weights : nullptr);
}

void RunDirectory::save_best(const Model<float>& model, const Config& cfg, const Vocab& vocab, int step,
                             const std::vector<float>& weights) {
  save_checkpoint(dir_ + "/best.safetensors", model, cfg, vocab, step, nullptr, &weights);
}

}  // namespace spectral
