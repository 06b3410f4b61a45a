// training_data: the text a run trains on, as the vocabulary and the train / validation token
// streams, checked against the run's shapes (and, on resume, against the checkpoint). Rank 0 reads
// the file; the other processes of a multi-process run receive it (they need no copy of the text).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/vocab.h"
#include "train/resume.h"
#include "util/distributed.h"

namespace spectral {

struct TrainingData {
  Vocab vocab;
  std::vector<int32_t> train, val;
  uint64_t chars = 0;        // characters of the whole text
  std::string fingerprint;   // token_fingerprint of the whole text
};

// Reads and checks cfg.data.path: both parts must exceed the context, the training part must hold
// one batch; on resume the vocabulary must be the checkpoint's and a changed text needs
// allow_changes. InputError/IoError say what is wrong.
TrainingData load_training_data(const Config& cfg, const ResumePlan* resume);

// Rank 0's data on every process.
void share_training_data(TrainingData& data, const Communicator& comm);

}  // namespace spectral
