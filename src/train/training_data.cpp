// training_data: load_training_data and share_training_data.
#include "train/training_data.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "data/dataset.h"
#include "data/text.h"
#include "util/errors.h"

namespace spectral {

namespace {
// A text that is not there gets a hint: the default data.path is relative to the working directory.
TextData load_text_with_hint(const std::string& path) {
  try {
    return load_training_text(path);
  } catch (const IoError& e) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) throw;
    std::string cwd = std::filesystem::current_path(ec).string();
    throw IoError(std::string(e.what()) + " (data.path is read from the working directory " + cwd +
                  "; train on a text with --set data.path=FILE, or put Tiny Shakespeare at " +
                  "data/tinyshakespeare/input.txt with scripts/fetch_data.sh and run from the source directory)");
  }
}
}  // namespace

TrainingData load_training_data(const Config& cfg, const ResumePlan* resume) {
  const int B = cfg.train.batch_size, T = cfg.model.context;
  const TextData text = load_text_with_hint(cfg.data.path);
  Split split = split_tokens(text.tokens, cfg.data.val_fraction);
  const std::string data = "data " + cfg.data.path;
  if (split.train.size() <= (size_t)T || split.val.size() <= (size_t)T)
    throw InputError(data + ": " + std::to_string(text.tokens.size()) + " characters give " +
                     std::to_string(split.train.size()) + " for training and " + std::to_string(split.val.size()) +
                     " for validation; both must exceed model.context = " + std::to_string(T));
  if (split.train.size() < (size_t)B * T)
    throw InputError(data + ": the training part has " + std::to_string(split.train.size()) +
                     " characters, fewer than one batch (train.batch_size " + std::to_string(B) + " x model.context " +
                     std::to_string(T) + " = " + std::to_string((size_t)B * T) + ")");
  spdlog::info("data {}: {} characters, vocabulary {}, train {} / val {}", cfg.data.path, text.tokens.size(),
               text.vocab.size(), split.train.size(), split.val.size());
  TrainingData d;
  d.vocab = text.vocab;
  d.train = std::move(split.train);
  d.val = std::move(split.val);
  d.chars = text.tokens.size();
  d.fingerprint = token_fingerprint(text.tokens);
  if (resume) {
    const TrainState& was = resume->state;
    if (d.vocab.code_points() != resume->checkpoint.vocab.code_points())
      throw InputError("resume: " + data + " has other characters (" + std::to_string(d.vocab.size()) +
                       " distinct) than the checkpoint's vocabulary (" + std::to_string(resume->checkpoint.vocab.size()) +
                       "); the model cannot train on it");
    if (was.data_chars != d.chars || was.data_fingerprint != d.fingerprint) {
      const std::string what = "resume: " + data + " changed since the checkpoint (" + std::to_string(d.chars) +
                               " characters, fingerprint " + d.fingerprint + "; the checkpoint saw " +
                               std::to_string(was.data_chars) + ", " + was.data_fingerprint + ")";
      if (!resume->allow_changes) throw InputError(what + ": add --allow-changes to train on it anyway");
      spdlog::warn("{}", what);
    }
  }
  return d;
}

void share_training_data(TrainingData& d, const Communicator& comm) {
  if (comm.size == 1) return;
  std::string vocab = comm.root() ? d.vocab.to_json_string() : std::string();
  comm.broadcast(vocab);
  if (!comm.root()) d.vocab = Vocab::from_json_string(vocab, "vocabulary from rank 0");
  comm.broadcast(d.train);
  comm.broadcast(d.val);
  comm.broadcast(d.fingerprint);
  double chars = double(d.chars);
  comm.broadcast(&chars, 1);
  d.chars = uint64_t(chars);
}

}  // namespace spectral
