// trainer: the training loop. Setup (rank 0 resolves the data and the starting point, every process
// receives them), then for each step: batch, forward, backward, reduce across processes, clip,
// update, log, evaluate, save — until the last step, a requested step, the time budget or a signal,
// always leaving a checkpoint to resume from. Policies live in their own units: run_directory (what
// is written where), training_data (the text and its checks), progress (the display), resume (the
// state a checkpoint carries), optimizer (AdamW or Muon + AdamW), adamw (the schedule), ema (the
// weights' average), eval/evaluate (validation loss).
#include "train/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <memory>

#include "data/dataset.h"
#include "eval/evaluate.h"
#include "model/mixer_registry.h"
#include "model/model.h"
#include "train/adamw.h"
#include "train/ema.h"
#include "train/optimizer.h"
#include "train/progress.h"
#include "train/replicas.h"
#include "train/run_directory.h"
#include "train/training_data.h"
#include "util/errors.h"
#include "util/hash.h"
#include "util/memory.h"
#include "util/threads.h"

namespace spectral {

namespace {

using Clock = std::chrono::steady_clock;

// Wall time of the run: this session, and every session of the run together.
class RunClock {
 public:
  RunClock(const TrainConfig& tc, double elapsed_before)
      : t0_(Clock::now()), before_(elapsed_before), limit_(tc.time_limit_s), whole_run_(tc.schedule == "time") {}
  double session() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }
  double elapsed() const { return before_ + session(); }
  // What train.time_limit_s limits: every session with schedule = "time" (the decay and the stop
  // then agree on how much of the budget is spent), else this session.
  double spent(double elapsed_s) const { return whole_run_ ? elapsed_s : elapsed_s - before_; }
  bool has_limit() const { return limit_ > 0; }
  double limit() const { return limit_; }
  double left(double elapsed_s) const { return has_limit() ? limit_ - spent(elapsed_s) : INFINITY; }

 private:
  Clock::time_point t0_;
  double before_, limit_;
  bool whole_run_;
};

// The resolved config of rank 0 on every process.
Config share_config(const Config& cfg, const Communicator& comm) {
  if (comm.size == 1) return cfg;
  std::string j = comm.root() ? config_to_json(cfg).dump() : std::string();
  comm.broadcast(j);
  return comm.root() ? cfg : load_config_json(nlohmann::json::parse(j));
}

// Weights, optimizer state, the weights' average and counters of rank 0 on every process (fresh or
// resumed alike).
void share_start(Model<float>& model, Optimizer& optimizer, WeightAverage& average, TrainState& st, bool resuming,
                 const Communicator& comm) {
  if (comm.size == 1) return;
  comm.broadcast(model.params.data(), model.params.size());
  if (!resuming) return;  // fresh: zero moments and a fresh state everywhere
  comm.broadcast(optimizer.m().data(), optimizer.m().size());
  comm.broadcast(optimizer.v().data(), optimizer.v().size());
  if (average.on()) {
    average.weights.resize(model.params.size());
    comm.broadcast(average.weights.data(), average.weights.size());
    double n = double(average.updates);
    comm.broadcast(&n, 1);
    average.updates = int64_t(n);
  }
  std::string state = comm.root() ? train_state_to_json(st).dump() : std::string();
  comm.broadcast(state);
  if (!comm.root()) {
    LoadedCheckpoint received;
    received.has_optimizer = true;
    received.train_state = nlohmann::json::parse(state);
    received.step = received.train_state.value("step", 0);
    st = read_train_state(received, "training state from rank 0");
  }
}

uint64_t weights_checksum(const std::vector<float>& params) {
  return hash_bytes(params.data(), params.size() * sizeof(float));
}

// Every process must hold the same weights (they apply the same update to the same start): the
// checksums are compared, and a difference is an error rather than a silently forked model.
// One process has nothing to compare (0, and no pass over the weights).
uint64_t check_identical_weights(const std::vector<float>& params, const Communicator& comm) {
  if (comm.size == 1) return 0;
  const uint64_t h = weights_checksum(params);
  // halves of the checksum are exact in a double; max of x and of −x give the max and the min
  double v[4] = {double(h >> 32), double(h & 0xffffffffu), -double(h >> 32), -double(h & 0xffffffffu)};
  comm.max(v, 4);
  if (v[0] != -v[2] || v[1] != -v[3])
    throw NumericalError("the " + std::to_string(comm.size) +
                         " processes hold different weights (a process computed differently); stopped");
  return h;
}

// A config too large for the machine stops here, with its estimate, rather than as std::bad_alloc
// part way through allocating: the parameter arena four times over (weights, gradients, the
// optimizer's two moments; five with the weights' average) and the activation arenas for this
// process's share of the batch.
void check_training_memory(const ModelConfig& mc, const TrainConfig& tc, int vocab, int B_local, int T) {
  const size_t limit = memory_limit_bytes();
  if (limit == 0) return;
  // ... and each further replica's weights and gradients
  const double copies = (tc.ema > 0 ? 5.0 : 4.0) + 2.0 * (replicas_for(tc.replicas, B_local, num_threads()) - 1);
  const double params = copies * sizeof(float) * Model<float>::layout_for(mc, vocab).total();
  const double acts = double(Model<float>::activation_bytes_for(mc, vocab, B_local, T));
  if (params + acts <= 0.9 * double(limit)) return;
  throw InputError("this config needs about " + format_bytes(params + acts) + " of memory (" + format_bytes(params) +
                   " for weights, gradients and optimizer moments; " + format_bytes(acts) + " of activations for " +
                   std::to_string(B_local) + " sequences of " + std::to_string(T) + " characters), more than the " +
                   format_bytes(double(limit)) + " this process may use; lower train.batch_size or model.context, "
                   "or model.d_model / model.n_layers");
}

std::string mixer_list(const ModelConfig& mc) {
  std::string s;
  for (size_t i = 0; i < mc.mixer.size(); i++) s += (i ? "," : "") + mc.mixer[i];
  return s;
}

}  // namespace

TrainSummary run_training(const Config& root_cfg, const TrainOptions& opt) {
  const Communicator one;
  const Communicator& comm = opt.comm ? *opt.comm : one;
  try {
    // ---- setup: rank 0 decides, everyone receives -------------------------------------------
    const Config cfg = share_config(root_cfg, comm);
    const auto& mc = cfg.model;
    const auto& tc = cfg.train;
    const ResumePlan* resume = comm.root() ? opt.resume : nullptr;
    double resuming = opt.resume != nullptr;
    comm.broadcast(&resuming, 1);
    if (tc.batch_size % comm.size != 0)
      throw InputError("train.batch_size " + std::to_string(tc.batch_size) + " is not divisible by the " +
                       std::to_string(comm.size) + " processes (each takes an equal share of every batch)");
    const int B = tc.batch_size, T = mc.context;
    const int B_local = B / comm.size, row0 = comm.rank * B_local;
    const int R = replicas_for(tc.replicas, B_local, num_threads());
    if (B_local % R != 0)
      throw InputError("train.replicas " + std::to_string(R) + " does not divide each process's " +
                       std::to_string(B_local) + " sequences of every batch");

    TrainingData data;
    on_root(comm, [&] { data = load_training_data(cfg, resume); });
    share_training_data(data, comm);
    on_root(comm, [&] {  // rank 0 decides for all: every process stops, or none
      check_training_memory(mc, tc, data.vocab.size(), B_local, T);
      const std::string warning = resume ? std::string() : schedule_warning(tc);
      if (!warning.empty()) spdlog::warn("{}", warning);
    });

    Model<float> model(mc, data.vocab.size());
    model.set_weights_change_every_step(true);
    Optimizer optimizer(model.layout(), tc, mc.d_model);
    WeightAverage average(tc.ema);
    TrainState st;
    if (resume) {
      // a checkpoint written with the average on holds the average as its weights and the weights
      // to train on as optim.raw
      const LoadedCheckpoint& ck = resume->checkpoint;
      const bool averaged = !ck.raw.empty();
      model.params = averaged ? ck.raw : ck.model->params;
      optimizer.m() = ck.m;
      optimizer.v() = ck.v;
      st = resume->state;
      // an average switched on at this resume starts here
      if (average.on()) average.reset(ck.model->params, averaged ? st.ema_updates : 0);
    } else {
      model.init(static_cast<uint64_t>(tc.seed));
    }
    share_start(model, optimizer, average, st, resuming, comm);
    if (!resuming && average.on()) average.reset(model.params, 0);
    std::unique_ptr<ReplicaSet> replicas;
    if (R > 1) replicas = std::make_unique<ReplicaSet>(model, R);
    std::mt19937_64 rng(static_cast<uint64_t>(tc.seed) * 0x9E3779B97F4A7C15ull + 1);
    if (resuming) rng = rng_from_string(st.rng, "checkpoint " + opt.out_dir + "/last.safetensors");
    st.data_chars = data.chars;
    st.data_fingerprint = data.fingerprint;
    spdlog::info("model: {} parameters, mixers [{}], d={}, layers={}, context={}{}{}", model.num_params(), mixer_list(mc),
                 mc.d_model, mc.n_layers, mc.context,
                 comm.size > 1 ? fmt::format(", {} processes x {} sequences", comm.size, B_local) : std::string(),
                 R > 1 ? fmt::format(", {} replicas x {} sequences (a thread each)", R, B_local / R) : std::string());
    if (comm.root() && tc.optimizer == "muon")
      spdlog::info("optimizer: Muon (lr {}, momentum {}) for {}; AdamW for every other tensor", tc.muon_lr,
                   tc.muon_momentum, optimizer.muon_tensors());
    if (comm.root() && average.on())
      spdlog::info("weights' average on (decay {}): validation, best.safetensors and last.safetensors' weights use it",
                   tc.ema);
    TrainSummary sum;
    sum.first_step = st.step;
    if (opt.stop_at > 0 && opt.stop_at <= st.step && st.step < tc.steps)
      throw InputError("--stop-at " + std::to_string(opt.stop_at) + ": the run is already at step " +
                       std::to_string(st.step));
    if (st.step >= tc.steps) {  // a finished run: nothing to do
      sum.steps_done = st.step;
      sum.complete = true;
      sum.best_val_loss = st.best_val_loss;
      sum.last_val_loss = st.last_val_loss;
      sum.skipped = st.skipped;
      return sum;
    }

    // ---- the run directory (rank 0): fail before training if it cannot be written -----------
    const RunClock clock(tc, st.elapsed_s);
    std::unique_ptr<RunDirectory> run;
    int last_saved = resuming ? st.step : -1;  // step of the newest last.safetensors (-1: none)
    auto save_last = [&](int step) {
      check_identical_weights(model.params, comm);
      st.step = step;
      st.rng = rng_to_string(rng);
      st.elapsed_s = clock.elapsed();
      st.ema_updates = int(average.updates);
      if (run) run->save_last(model, cfg, data.vocab, optimizer, average, st);
      last_saved = step;
    };
    on_root(comm, [&] {
      run = std::make_unique<RunDirectory>(opt.out_dir, resume != nullptr, opt.overwrite);
      if (resume && !resume->changes.empty()) save_last(st.step);  // the checkpoint carries the new config first
      run->write_config(cfg);
      run->open_metrics(resume != nullptr, st.step);
      if (resume) spdlog::info("resuming {} at step {} of {}", opt.out_dir, st.step, tc.steps);
    });
    if (resuming && !comm.root()) last_saved = st.step;

    ProgressLine progress(opt.progress && comm.root());
    auto last_good = [&] {
      return last_saved >= 0 ? "last good checkpoint: " + opt.out_dir + "/last.safetensors at step " +
                                   std::to_string(last_saved)
                             : "no checkpoint was written yet; the first is due at step " +
                                   std::to_string(std::min(tc.eval_interval, tc.steps));
    };
    // the weights that validation scores and best.safetensors holds: the average when it is on
    auto evaluated_weights = [&]() -> const std::vector<float>& { return average.on() ? average.weights : model.params; };
    auto evaluate_and_save = [&](int step) {
      if (average.on()) std::swap(model.params, average.weights);
      const double val = validation_loss(model, data.val, B_local, T, tc.eval_batches, comm);
      if (average.on()) std::swap(model.params, average.weights);
      st.last_val_loss = val;
      const bool best = val < st.best_val_loss;
      if (best) st.best_val_loss = val;
      if (run) {
        run->log({{"step", step}, {"val_loss", val}, {"elapsed_s", clock.elapsed()}});
        // best first: if a crash falls between the two writes, the resumed run redoes this evaluation
        if (best) run->save_best(model, cfg, data.vocab, step, evaluated_weights());
      }
      save_last(step);
      progress.break_line();
      if (comm.root())
        spdlog::info("step {}: val loss {:.4f} (best {:.4f}), {:.1f}s", step, val, st.best_val_loss, clock.elapsed());
    };

    // ---- the loop -----------------------------------------------------------------------------
    std::vector<int32_t> x((size_t)B * T), y((size_t)B * T);
    double session_train_seconds = 0;  // tokens/s and ETA count this session's steps only
    int session_steps = 0;
    int step = st.step;
    while (step < tc.steps) {
      const auto s0 = Clock::now();
      double now = clock.elapsed();
      comm.broadcast(&now, 1);  // with schedule = "time" the rate follows rank 0's clock
      const double lr = learning_rate(tc, step, now);
      // every process draws the whole batch (the same as one process would) and takes its rows
      random_batch(x.data(), y.data(), data.train, B, T, rng);
      const int32_t* xs = x.data() + (size_t)row0 * T;
      const int32_t* ys = y.data() + (size_t)row0 * T;
      const DropoutDraw dropout = dropout_for_step(mc.dropout, uint64_t(tc.seed), uint64_t(step), row0);
      double loss = replicas ? replicas->forward_backward(xs, ys, B_local, T, dropout)  // gradients too
                             : model.forward(xs, ys, B_local, T, dropout);
      loss = comm.sum(loss) / comm.size;
      double norm = NAN;
      if (std::isfinite(loss)) {
        if (!replicas) {
          model.zero_grad();
          model.backward();
        }
        comm.sum(model.grads.data(), model.grads.size());  // Σ over processes of each one's mean-loss gradient
        norm = global_grad_norm(model.grads) / comm.size;
      }
      if (std::isfinite(loss) && std::isfinite(norm)) {
        const double clip = (tc.grad_clip > 0 && norm > tc.grad_clip) ? tc.grad_clip / norm : 1.0;
        optimizer.update(model.params, model.grads, lr, step + 1, clip / comm.size);
        if (replicas) replicas->sync_weights();
        if (average.on()) average.update(model.params);
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
        progress.break_line();
        if (comm.root()) spdlog::warn("{}; step skipped (no update; {} skipped so far)", what, st.skipped);
        if (tc.skip_limit > 0 && st.skipped_in_a_row >= tc.skip_limit)
          throw NumericalError(what + "; stopped after " + std::to_string(st.skipped_in_a_row) +
                               " skipped steps in a row (train.skip_limit; " + last_good() + ")");
      }
      const double dt = std::chrono::duration<double>(Clock::now() - s0).count();
      st.train_seconds += dt;
      session_train_seconds += dt;
      session_steps++;
      step++;
      const double tok_s = double(session_steps) * B * T / session_train_seconds;

      // the processes agree on rank 0's clock and on any stop signal any of them got
      double agreed[2] = {comm.root() ? clock.elapsed() : 0.0, double(opt.stop_signal ? *opt.stop_signal : 0)};
      comm.max(agreed, 2);
      const double elapsed = agreed[0];
      const int signal = int(agreed[1]);
      const bool out_of_time = clock.has_limit() && clock.left(elapsed) <= 0;

      if (step % tc.log_interval == 0 || step == tc.steps) {
        const double mean_loss = st.loss_count ? st.loss_sum / st.loss_count : NAN;
        if (run)
          run->log({{"step", step},
                    {"loss", st.loss_count ? nlohmann::json(mean_loss) : nlohmann::json()},
                    {"lr", lr},
                    {"grad_norm", std::isfinite(norm) ? nlohmann::json(norm) : nlohmann::json()},
                    {"skipped", st.skipped},
                    {"tokens_per_s", tok_s},
                    {"elapsed_s", elapsed}});
        const double eta = (tc.steps - step) * (session_train_seconds / session_steps);
        const bool budget_binds = clock.left(elapsed) < eta;  // the time limit ends the run first
        progress.show(step, tc.steps, mean_loss, lr, tok_s, std::min(eta, clock.left(elapsed)),
                      budget_binds ? clock.spent(elapsed) : 0, budget_binds ? clock.limit() : 0);
        st.loss_sum = 0;
        st.loss_count = 0;
      }
      // a signal skips a periodic evaluation (it may take seconds), not the final one; the
      // checkpoint below follows either way
      if (step == tc.steps || (!signal && (step % tc.eval_interval == 0 || out_of_time))) evaluate_and_save(step);
      if (signal || out_of_time || (opt.stop_at > 0 && step >= opt.stop_at)) {
        if (last_saved != step) save_last(step);
        progress.break_line();
        if (signal) {
          sum.stopped_by_signal = signal;
          if (comm.root())
            spdlog::warn("stopped by signal {} after step {}; checkpoint {}", signal, step,
                         opt.out_dir + "/last.safetensors");
        } else if (out_of_time) {
          sum.stopped_by_time_limit = step < tc.steps;
        } else if (comm.root()) {
          spdlog::info("stopped after step {} as asked (--stop-at); checkpoint {}", step,
                       opt.out_dir + "/last.safetensors");
        }
        break;
      }
    }
    const uint64_t checksum = check_identical_weights(model.params, comm);
    if (comm.size > 1 && comm.root())
      spdlog::info("weights identical on all {} processes (checksum {:016x})", comm.size, checksum);
    sum.steps_done = step;
    sum.complete = step >= tc.steps;
    sum.skipped = st.skipped;
    sum.best_val_loss = st.best_val_loss;
    sum.last_val_loss = st.last_val_loss;
    sum.elapsed_s = clock.elapsed();
    sum.tokens_per_s = session_train_seconds > 0 ? double(session_steps) * B * T / session_train_seconds : 0;
    return sum;
  } catch (const Error& e) {
    // past setup every process meets the same errors at the same step (they see the same reduced
    // values); rank 0 reports them, the others end quietly with the same code
    mark_failure_shared();
    if (comm.root()) throw;
    throw QuietExit{exit_code_of(e)};
  }
}

}  // namespace spectral
