// trainer: the training loop. Reads as: load text → vocabulary → split → model → for each step
// (batch, forward, backward, clip, AdamW) → periodic evaluation, metrics and checkpoints.
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
#include "io/files.h"
#include "model/model.h"
#include "train/adamw.h"
#include "train/evaluate.h"
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

}  // namespace

TrainSummary run_training(const Config& cfg, const TrainOptions& opt) {
  const auto& mc = cfg.model;
  const auto& tc = cfg.train;
  // data
  const TextData text = load_training_text(cfg.data.path);
  const Split split = split_tokens(text.tokens, cfg.data.val_fraction);
  if (split.train.size() <= (size_t)mc.context || split.val.size() <= (size_t)mc.context)
    throw InputError("data " + cfg.data.path + ": " + std::to_string(text.tokens.size()) +
                     " characters give " + std::to_string(split.train.size()) + " for training and " +
                     std::to_string(split.val.size()) + " for validation; both must exceed model.context = " +
                     std::to_string(mc.context));
  if (split.train.size() < (size_t)tc.batch_size * (mc.context + 1) / 8 + mc.context + 1)
    spdlog::warn("training text is small ({} characters) for batch_size {} x context {}", split.train.size(),
                 tc.batch_size, mc.context);
  spdlog::info("data {}: {} characters, vocabulary {}, train {} / val {}", cfg.data.path, text.tokens.size(),
               text.vocab.size(), split.train.size(), split.val.size());

  // output directory: fail before training if it cannot be written
  std::filesystem::create_directories(opt.out_dir);
  write_text_file_atomic(opt.out_dir + "/config.json", config_to_json(cfg).dump(2) + "\n");
  const std::string metrics_path = opt.out_dir + "/metrics.jsonl";
  std::ofstream metrics(metrics_path, std::ios::trunc);
  if (!metrics) throw InputError("output " + metrics_path + ": cannot be written");

  Model<float> model(mc, text.vocab.size());
  model.init(static_cast<uint64_t>(tc.seed));
  AdamW opt_state(model.layout(), tc);
  std::mt19937_64 rng(static_cast<uint64_t>(tc.seed) * 0x9E3779B97F4A7C15ull + 1);
  spdlog::info("model: {} parameters, mixers [{}], d={}, layers={}, context={}", model.num_params(),
               [&] {
                 std::string s;
                 for (size_t i = 0; i < model.config().mixer.size(); i++) s += (i ? "," : "") + model.config().mixer[i];
                 return s;
               }(),
               mc.d_model, mc.n_layers, mc.context);

  const int B = tc.batch_size, T = mc.context;
  std::vector<int32_t> x((size_t)B * T), y((size_t)B * T);
  TrainSummary sum;
  sum.best_val_loss = INFINITY;
  const auto t0 = Clock::now();
  double train_seconds = 0;  // time in training steps only (tokens/s excludes evaluation)
  double loss_acc = 0;
  int loss_n = 0;
  const bool tty = isatty(STDERR_FILENO);
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  auto evaluate_and_save = [&](int step) {
    const double val = validation_loss(model, split.val, B, T, tc.eval_batches);
    sum.last_val_loss = val;
    metrics << nlohmann::json{{"step", step}, {"val_loss", val}, {"elapsed_s", elapsed()}}.dump() << "\n";
    metrics.flush();
    TrainingState st{&opt_state.m, &opt_state.v,
                     nlohmann::json{{"step", step}, {"best_val_loss", std::min(sum.best_val_loss, val)}}};
    save_checkpoint(opt.out_dir + "/last.safetensors", model, cfg, text.vocab, step, &st);
    if (val < sum.best_val_loss) {
      sum.best_val_loss = val;
      save_checkpoint(opt.out_dir + "/best.safetensors", model, cfg, text.vocab, step, nullptr);
    }
    if (opt.progress && tty) std::fputs("\n", stderr);
    spdlog::info("step {}: val loss {:.4f} (best {:.4f}), {:.1f}s", step, val, sum.best_val_loss, elapsed());
  };

  int step = 0;
  for (; step < tc.steps; step++) {
    const auto s0 = Clock::now();
    const double lr = learning_rate(tc, step);
    random_batch(x.data(), y.data(), split.train, B, T, rng);
    const double loss = model.forward(x.data(), y.data(), B, T);
    if (!std::isfinite(loss))
      throw NumericalError("step " + std::to_string(step + 1) + ": training loss is " + std::to_string(loss) +
                           "; stopped (last good checkpoint kept in " + opt.out_dir + ")");
    model.zero_grad();
    model.backward();
    const double norm = global_grad_norm(model.grads);
    if (!std::isfinite(norm))
      throw NumericalError("step " + std::to_string(step + 1) + ": gradient norm is " + std::to_string(norm) +
                           "; stopped (last good checkpoint kept in " + opt.out_dir + ")");
    const double scale = (tc.grad_clip > 0 && norm > tc.grad_clip) ? tc.grad_clip / norm : 1.0;
    opt_state.update(model.params, model.grads, lr, step + 1, scale);
    train_seconds += std::chrono::duration<double>(Clock::now() - s0).count();
    loss_acc += loss;
    loss_n++;
    sum.final_train_loss = loss;
    const int done = step + 1;
    const double tok_s = double(done) * B * T / train_seconds;
    if (done % tc.log_interval == 0 || done == tc.steps) {
      metrics << nlohmann::json{{"step", done}, {"loss", loss_acc / loss_n}, {"lr", lr}, {"grad_norm", norm},
                                {"tokens_per_s", tok_s}, {"elapsed_s", elapsed()}}
                     .dump()
              << "\n";
      metrics.flush();
      if (opt.progress) {
        const double eta = (tc.steps - done) * (train_seconds / done);
        const double limit_left = tc.time_limit_s > 0 ? tc.time_limit_s - elapsed() : INFINITY;
        std::fprintf(stderr, "%sstep %d/%d | loss %.4f | lr %.2e | %.0f tok/s | ETA %s%s", tty ? "\r" : "", done,
                     tc.steps, loss_acc / loss_n, lr, tok_s, format_duration(std::min(eta, limit_left)).c_str(),
                     tty ? "   " : "\n");
        std::fflush(stderr);
      }
      loss_acc = 0;
      loss_n = 0;
    }
    const bool out_of_time = tc.time_limit_s > 0 && elapsed() >= tc.time_limit_s;
    if (done % tc.eval_interval == 0 || done == tc.steps || out_of_time) evaluate_and_save(done);
    if (out_of_time) {
      spdlog::info("time limit of {:.0f}s reached after {} steps", tc.time_limit_s, done);
      step++;
      break;
    }
  }
  sum.steps_done = step;
  sum.elapsed_s = elapsed();
  sum.tokens_per_s = train_seconds > 0 ? double(step) * B * T / train_seconds : 0;
  return sum;
}

}  // namespace spectral
