// trainer: one training run — data, model, optimizer, schedule, periodic evaluation, metrics.jsonl,
// progress line, checkpoints (last.safetensors at every evaluation, at the end and whenever the run
// stops early; best.safetensors at the lowest validation loss). A run resumes exactly from
// last.safetensors (train/resume.h), stops cleanly when asked (a signal, a step, a time limit) and
// stops with NumericalError on a non-finite loss or gradient unless train.on_nonfinite = "skip".
#pragma once

#include <csignal>
#include <string>

#include "config/config.h"
#include "train/resume.h"
#include "util/distributed.h"

namespace spectral {

struct TrainOptions {
  std::string out_dir;      // created if missing; config.json, metrics.jsonl, *.safetensors go here
  bool progress = true;     // progress line on stderr
  int stop_at = 0;          // stop after this step (checkpoint written, resumable); 0 = run to train.steps
  // Polled after every step: nonzero (a signal number) stops the run there with a checkpoint.
  const volatile std::sig_atomic_t* stop_signal = nullptr;
  const ResumePlan* resume = nullptr;  // continue this run (out_dir must be resume->dir)
  // A fresh run into an out_dir that holds another run's files (metrics.jsonl, config.json,
  // last/best.safetensors): refused with InputError, or with overwrite those files are deleted
  // first (once the data and model are known to be good).
  bool overwrite = false;
  // The processes training this model together (data parallel: each takes batch_size / size rows
  // of every step's batch; gradients are summed). Null: this process alone. With several
  // processes, only rank 0's config and resume plan count (the others receive them), and only
  // rank 0 reads the text and writes out_dir.
  const Communicator* comm = nullptr;
};

struct TrainSummary {
  int first_step = 0;       // step the run started from (0, or the resumed checkpoint's)
  int steps_done = 0;       // step reached
  int skipped = 0;          // steps skipped for non-finite values (whole run)
  int stopped_by_signal = 0;
  bool stopped_by_time_limit = false;  // train.time_limit_s ended the run before train.steps
  bool complete = false;    // steps_done == train.steps
  double final_train_loss = 0;
  double best_val_loss = 0;
  double last_val_loss = 0;
  double elapsed_s = 0;
  double tokens_per_s = 0;   // all processes together
};

TrainSummary run_training(const Config& cfg, const TrainOptions& opt);

}  // namespace spectral
