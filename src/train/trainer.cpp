// trainer: the training loop. Reads as: load text → vocabulary → split → output directory → model
// (fresh, or the resumed checkpoint's weights, moments, RNG and counters) → for each step (batch,
// forward, backward, clip, AdamW) → periodic evaluation, metrics and checkpoints → stop at the end,
// at a requested step, at the time limit or on a signal, always with a checkpoint to resume from.
#include "train/trainer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/text.h"
#include "io/checkpoint.h"
#include "util/files.h"
#include "model/model.h"
#include "train/adamw.h"
#include "eval/evaluate.h"
#include "util/errors.h"

namespace spectral {

namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int total = static_cast<int>(s + 0.5);
  char buf[32];
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", total / 3600, (total / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", total / 60, total % 60);
  return buf;
}

// A number for a message: "nan", "inf", "-inf" or 4 significant digits.
std::string number_text(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

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

TrainSummary run_training(const Config& cfg, const TrainOptions& opt) {
  const auto& mc = cfg.model;
  const auto& tc = cfg.train;
  const ResumePlan* resume = opt.resume;
  const int B = tc.batch_size, T = mc.context;

  // data
  const TextData text = load_training_text(cfg.data.path);
  const Split split = split_tokens(text.tokens, cfg.data.val_fraction);
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
  const std::string fingerprint = token_fingerprint(text.tokens);
  if (resume) {
    const TrainState& was = resume->state;
    if (text.vocab.code_points() != resume->checkpoint.vocab.code_points())
      throw InputError("resume: " + data + " has other characters (" + std::to_string(text.vocab.size()) +
                       " distinct) than the checkpoint's vocabulary (" + std::to_string(resume->checkpoint.vocab.size()) +
                       "); the model cannot train on it");
    if (was.data_chars != text.tokens.size() || was.data_fingerprint != fingerprint) {
      const std::string what = "resume: " + data + " changed since the checkpoint (" +
                               std::to_string(text.tokens.size()) + " characters, fingerprint " + fingerprint +
                               "; the checkpoint saw " + std::to_string(was.data_chars) + ", " + was.data_fingerprint + ")";
      if (!resume->allow_changes) throw InputError(what + ": add --allow-changes to train on it anyway");
      spdlog::warn("{}", what);
    }
  }

  // model, optimizer, sampler and counters: fresh or resumed
  Model<float> model(mc, text.vocab.size());
  AdamW opt_state(model.layout(), tc);
  std::mt19937_64 rng(static_cast<uint64_t>(tc.seed) * 0x9E3779B97F4A7C15ull + 1);
  TrainState st;
  if (resume) {
    const LoadedCheckpoint& ck = resume->checkpoint;
    model.params = ck.model->params;
    opt_state.m = ck.m;
    opt_state.v = ck.v;
    st = resume->state;
    rng = rng_from_string(st.rng, "checkpoint " + resume->dir + "/last.safetensors");
  } else {
    model.init(static_cast<uint64_t>(tc.seed));
  }
  st.data_chars = text.tokens.size();
  st.data_fingerprint = fingerprint;
  spdlog::info("model: {} parameters, mixers [{}], d={}, layers={}, context={}", model.num_params(),
               [&] {
                 std::string s;
                 for (size_t i = 0; i < model.config().mixer.size(); i++) s += (i ? "," : "") + model.config().mixer[i];
                 return s;
               }(),
               mc.d_model, mc.n_layers, mc.context);

  TrainSummary sum;
  sum.first_step = st.step;
  if (opt.stop_at > 0 && opt.stop_at <= st.step && st.step < tc.steps)
    throw InputError("--stop-at " + std::to_string(opt.stop_at) + ": the run is already at step " + std::to_string(st.step));
  if (st.step >= tc.steps) {  // a finished run: nothing to do
    sum.steps_done = st.step;
    sum.complete = true;
    sum.best_val_loss = st.best_val_loss;
    sum.last_val_loss = st.last_val_loss;
    sum.skipped = st.skipped;
    return sum;
  }

  // output directory: fail before training if it cannot be written
  const std::string last_path = opt.out_dir + "/last.safetensors";
  const auto t0 = Clock::now();
  const double elapsed_before = st.elapsed_s;  // wall time of earlier sessions
  auto session_elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto elapsed = [&] { return elapsed_before + session_elapsed(); };
  // the time limit counts this session, or with schedule = "time" every session of the run (the
  // decay and the stop then agree on how much of the budget is spent)
  const bool time_schedule = tc.schedule == "time";
  auto budget_spent = [&] { return time_schedule ? elapsed() : session_elapsed(); };
  int last_saved = resume ? st.step : -1;  // step of the newest last.safetensors (-1: none)
  auto save_last = [&](int step) {
    st.step = step;
    st.rng = rng_to_string(rng);
    st.elapsed_s = elapsed();
    TrainingState ts{&opt_state.m, &opt_state.v, train_state_to_json(st)};
    save_checkpoint(last_path, model, cfg, text.vocab, step, &ts);
    last_saved = step;
  };
  if (!resume) claim_output_dir(opt.out_dir, opt.overwrite);
  prepare_output_dir(opt.out_dir);
  if (resume && !resume->changes.empty()) save_last(st.step);  // the checkpoint carries the new config first
  write_text_file_atomic(opt.out_dir + "/config.json", config_to_json(cfg).dump(2) + "\n");
  const std::string metrics_path = opt.out_dir + "/metrics.jsonl";
  if (resume) {
    const size_t dropped = trim_metrics(metrics_path, st.step);
    if (dropped) spdlog::warn("resume: dropped {} lines of {} written after step {} (or cut short)", dropped, metrics_path, st.step);
  }
  std::ofstream metrics(metrics_path, resume ? std::ios::app : std::ios::trunc);
  if (!metrics) throw IoError("output " + metrics_path + ": cannot be written");
  if (resume)
    spdlog::info("resuming {} at step {} of {}", opt.out_dir, st.step, tc.steps);

  std::vector<int32_t> x((size_t)B * T), y((size_t)B * T);
  double session_train_seconds = 0;  // tokens/s and ETA count this session's steps only
  int session_steps = 0;
  const bool tty = isatty(STDERR_FILENO);

  auto last_good = [&] {
    return last_saved >= 0 ? "last good checkpoint: " + last_path + " at step " + std::to_string(last_saved)
                           : "no checkpoint was written yet; the first is due at step " +
                                 std::to_string(std::min(tc.eval_interval, tc.steps));
  };
  auto evaluate_and_save = [&](int step) {
    const double val = validation_loss(model, split.val, B, T, tc.eval_batches);
    st.last_val_loss = val;
    metrics << nlohmann::json{{"step", step}, {"val_loss", val}, {"elapsed_s", elapsed()}}.dump() << "\n";
    metrics.flush();
    // best first: if a crash falls between the two writes, the resumed run redoes this evaluation
    if (val < st.best_val_loss) {
      st.best_val_loss = val;
      save_checkpoint(opt.out_dir + "/best.safetensors", model, cfg, text.vocab, step, nullptr);
    }
    save_last(step);
    if (opt.progress && tty) std::fputs("\n", stderr);
    spdlog::info("step {}: val loss {:.4f} (best {:.4f}), {:.1f}s", step, val, st.best_val_loss, elapsed());
  };

  int step = st.step;
  while (step < tc.steps) {
    const auto s0 = Clock::now();
    const double lr = learning_rate(tc, step, elapsed());
    random_batch(x.data(), y.data(), split.train, B, T, rng);
    const DropoutDraw drop = dropout_for_step(mc.dropout, uint64_t(tc.seed), uint64_t(step));
    const double loss = model.forward(x.data(), y.data(), B, T, drop);
    double norm = NAN;
    if (std::isfinite(loss)) {
      model.zero_grad();
      model.backward();
      norm = global_grad_norm(model.grads);
    }
    if (std::isfinite(loss) && std::isfinite(norm)) {
      const double scale = (tc.grad_clip > 0 && norm > tc.grad_clip) ? tc.grad_clip / norm : 1.0;
      opt_state.update(model.params, model.grads, lr, step + 1, scale);
      st.loss_sum += loss;
      st.loss_count++;
      st.skipped_in_a_row = 0;
      sum.final_train_loss = loss;
    } else {
      const std::string what = "step " + std::to_string(step + 1) + ": " +
                               (std::isfinite(loss) ? "gradient norm is " + number_text(norm)
                                                    : "training loss is " + number_text(loss)) +
                               " (lr " + number_text(lr) + ")";
      if (tc.on_nonfinite == "stop")
        throw NumericalError(what + "; stopped (" + last_good() +
                             "; lower train.lr, or train.on_nonfinite = \"skip\" skips such steps)");
      st.skipped++;
      st.skipped_in_a_row++;
      if (opt.progress && tty) std::fputs("\n", stderr);
      spdlog::warn("{}; step skipped (no update; {} skipped so far)", what, st.skipped);
      if (tc.skip_limit > 0 && st.skipped_in_a_row >= tc.skip_limit)
        throw NumericalError(what + "; stopped after " + std::to_string(st.skipped_in_a_row) +
                             " skipped steps in a row (train.skip_limit; " + last_good() + ")");
    }
    const double dt = std::chrono::duration<double>(Clock::now() - s0).count();
    st.train_seconds += dt;
    session_train_seconds += dt;
    session_steps++;
    step++;
    const int done = step;
    const double tok_s = double(session_steps) * B * T / session_train_seconds;
    if (done % tc.log_interval == 0 || done == tc.steps) {
      const nlohmann::json mean_loss = st.loss_count ? nlohmann::json(st.loss_sum / st.loss_count) : nlohmann::json();
      metrics << nlohmann::json{{"step", done},          {"loss", mean_loss},  {"lr", lr},
                                {"grad_norm", std::isfinite(norm) ? nlohmann::json(norm) : nlohmann::json()},
                                {"skipped", st.skipped}, {"tokens_per_s", tok_s}, {"elapsed_s", elapsed()}}
                     .dump()
              << "\n";
      metrics.flush();
      if (opt.progress) {
        const double eta = (tc.steps - done) * (session_train_seconds / session_steps);
        const double limit_left = tc.time_limit_s > 0 ? tc.time_limit_s - budget_spent() : INFINITY;
        std::fprintf(stderr, "%sstep %d/%d | loss %.4f | lr %.2e | %.0f tok/s | ETA %s%s", tty ? "\r" : "", done,
                     tc.steps, st.loss_count ? st.loss_sum / st.loss_count : NAN, lr, tok_s,
                     format_duration(std::min(eta, limit_left)).c_str(), tty ? "   " : "\n");
        std::fflush(stderr);
      }
      st.loss_sum = 0;
      st.loss_count = 0;
    }
    const int signal = opt.stop_signal ? *opt.stop_signal : 0;
    const bool out_of_time = tc.time_limit_s > 0 && budget_spent() >= tc.time_limit_s;
    // a signal skips a periodic evaluation (it may take seconds), not the final one; the checkpoint
    // below follows either way
    if (done == tc.steps || (!signal && (done % tc.eval_interval == 0 || out_of_time))) evaluate_and_save(done);
    if (signal || out_of_time || (opt.stop_at > 0 && done >= opt.stop_at)) {
      if (last_saved != done) save_last(done);
      if (opt.progress && tty) std::fputs("\n", stderr);
      if (signal) {
        sum.stopped_by_signal = signal;
        spdlog::warn("stopped by signal {} after step {}; checkpoint {}", signal, done, last_path);
      } else if (out_of_time) {
        spdlog::info("time limit of {:.0f}s reached after {} steps", tc.time_limit_s, done);
      } else {
        spdlog::info("stopped after step {} as asked (--stop-at); checkpoint {}", done, last_path);
      }
      break;
    }
  }
  sum.steps_done = step;
  sum.complete = step >= tc.steps;
  sum.skipped = st.skipped;
  sum.best_val_loss = st.best_val_loss;
  sum.last_val_loss = st.last_val_loss;
  sum.elapsed_s = elapsed();
  sum.tokens_per_s = session_train_seconds > 0 ? double(session_steps) * B * T / session_train_seconds : 0;
  return sum;
}

}  // namespace spectral
