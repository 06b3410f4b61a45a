// train_workspace: a scratch directory with a generated text and a tiny config, for the tests that
// train through the binary (resume, interruption, bad input, numerical faults). The model is tiny
// (d_model 16, 2 fft layers, context 32): a step takes about a millisecond.
#pragma once

#include <string>

#include "cli_runner.h"

namespace spectral::testing {

inline const char* kTinyTrainConfig = R"({
  "model": {"d_model": 16, "n_layers": 2, "n_heads": 2, "context": 32, "mixer": "fft", "mlp_ratio": 2},
  "train": {"batch_size": 4, "steps": 40, "lr": 0.01, "warmup_steps": 5, "eval_interval": 20,
            "eval_batches": 2, "log_interval": 10, "seed": 3}
})";

struct TrainWorkspace {
  std::string dir, text, config;
  explicit TrainWorkspace(const std::string& tag, size_t text_chars = 6000) {
    dir = temp_dir(tag);
    text = dir + "/text.txt";
    config = dir + "/tiny.json";
    spit(text, generated_text(text_chars));
    spit(config, kTinyTrainConfig);
  }
  // `spectral train` of the tiny config on the text into out, one thread, no progress line.
  std::string train(const std::string& out, const std::string& extra = "") const {
    return "train --config " + config + " --set data.path=" + text + " --out " + out + " --threads 1 --no-progress " + extra;
  }
  std::string resume(const std::string& run, const std::string& extra = "") const {
    return "train --resume " + run + " --threads 1 --no-progress " + extra;
  }
};

}  // namespace spectral::testing
