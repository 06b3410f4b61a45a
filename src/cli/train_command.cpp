// train_command: `spectral train --config FILE [--set key=value ...] [--out DIR]`, and
// `spectral train --resume DIR [--set key=value ... --allow-changes]`. A fresh run refuses an --out
// directory that holds another run unless --overwrite. SIGINT/SIGTERM stop the run
// after the current step with a checkpoint; the exit code is then 128 + the signal (130, 143). The
// last lines say how the run ended, how to continue it, and where its metrics are and how to plot them.
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "config/config.h"
#include "model/mixer_registry.h"
#include "train/resume.h"
#include "train/trainer.h"
#include "util/distributed.h"
#include "util/stop_signal.h"
#include "util/threads.h"

namespace spectral {

namespace {

// The closing lines of every run that trained: its metrics and the command that plots them.
void say_metrics(const std::string& dir) {
  spdlog::info("metrics: {}/metrics.jsonl; plot them with: scripts/plot_loss.py {} -o {}/loss.png", dir, dir, dir);
}

// A run with schedule = "time" whose budget is spent would stop again after one step.
bool budget_spent(const Config& cfg, const TrainState& st) {
  return cfg.train.schedule == "time" && cfg.train.time_limit_s > 0 && st.elapsed_s >= cfg.train.time_limit_s;
}

std::string extend_budget(const std::string& dir, double limit_s) {
  return "to train longer: spectral train --resume " + dir + " --allow-changes --set train.time_limit_s=" +
         std::to_string(int(limit_s * 2));
}

}  // namespace

CLI::App* add_train_command(CLI::App& app, Action* action) {
  struct Args {
    std::string config_path, out_dir = "runs/latest", resume_dir;
    std::vector<std::string> sets;
    int threads = 0, stop_at = 0;
    bool no_progress = false, help_config = false, allow_changes = false, overwrite = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand("train", "Train a model from a JSON config, or resume a run");
  auto* config = sub->add_option("--config", args->config_path,
                                 "JSON config file (sections model, train, data); keys not given keep their defaults");
  sub->add_option("--set", args->sets, "Override a config key: --set train.steps=100 (repeatable; value read as JSON, else string)")
      ->take_all()
      ->allow_extra_args(false);
  auto* out = sub->add_option("--out", args->out_dir, "Output directory: config.json, metrics.jsonl, last/best.safetensors")
                  ->capture_default_str();
  auto* resume = sub->add_option("--resume", args->resume_dir,
                                 "Continue the run in DIR from DIR/last.safetensors (its config, weights, optimizer, "
                                 "step, RNG); metrics.jsonl is appended");
  resume->excludes(config)->excludes(out);
  sub->add_flag("--overwrite", args->overwrite,
                "Train afresh into an --out directory that already holds a run (its checkpoints and metrics are "
                "deleted first); without it such a directory is refused")
      ->excludes(resume);
  sub->add_flag("--allow-changes", args->allow_changes,
                "With --resume: let --set change the run's config (train.* and data.*; warns)")
      ->needs(resume);
  sub->add_option("--stop-at", args->stop_at,
                  "Stop after this step with a checkpoint, as if interrupted (0 = run to train.steps)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--no-progress", args->no_progress, "No progress line on stderr");
  sub->add_flag("--help-config", args->help_config,
                "Print every config key with its default and meaning, and the mixers with their variants and keys, "
                "then exit");
  add_threads_option(sub, &args->threads);
  *action = [args, resume]() -> int {
    if (args->help_config) {
      std::cout << describe_defaults() << describe_mixers();
      return 0;
    }
    TrainOptions opt;
    opt.progress = !args->no_progress;
    opt.stop_at = args->stop_at;
    const Communicator& comm = world();
    opt.comm = &comm;
    opt.out_dir = resume->count() ? args->resume_dir : args->out_dir;
    opt.overwrite = args->overwrite;
    // rank 0 resolves the config (the other processes receive it and need none of the files)
    Config cfg;
    ResumePlan plan;
    double finished = 0;
    on_root(comm, [&] {
      if (resume->count()) {
        plan = plan_resume(args->resume_dir, args->sets, args->allow_changes);
        cfg = plan.config;
        opt.resume = &plan;
        if (plan.state.step >= cfg.train.steps) {
          spdlog::info("the run in {} is complete ({} of {} steps); to train longer: --resume {} --allow-changes --set "
                       "train.steps=N",
                       args->resume_dir, plan.state.step, cfg.train.steps, args->resume_dir);
          finished = 1;
        } else if (budget_spent(cfg, plan.state)) {
          spdlog::info("the run in {} has used its time budget ({:.0f}s of train.time_limit_s = {:g}, step {}); {}",
                       args->resume_dir, plan.state.elapsed_s, cfg.train.time_limit_s, plan.state.step,
                       extend_budget(args->resume_dir, cfg.train.time_limit_s));
          finished = 1;
        }
      } else {
        nlohmann::json j = args->config_path.empty() ? nlohmann::json::object() : read_json_file(args->config_path);
        for (const auto& s : args->sets) apply_override(j, s);
        cfg = load_config_json(j);
      }
    });
    comm.broadcast(&finished, 1);
    if (finished) return 0;
    if (resume->count() && !comm.root()) opt.resume = &plan;  // a placeholder: rank 0's plan is sent
    set_threads(args->threads);
    install_stop_handlers();
    opt.stop_signal = stop_requested();
    const TrainSummary s = run_training(cfg, opt);
    if (!comm.root()) return s.stopped_by_signal ? 128 + s.stopped_by_signal : 0;
    if (s.stopped_by_signal) {
      spdlog::warn("interrupted at step {} of {}; resume with: spectral train --resume {}", s.steps_done, cfg.train.steps,
                   opt.out_dir);
      say_metrics(opt.out_dir);
      return 128 + s.stopped_by_signal;
    }
    spdlog::info("{}: {} steps in {:.1f}s, {:.0f} tokens/s, best val loss {:.4f}{}, checkpoints in {}",
                 s.complete ? "done" : "stopped", s.steps_done, s.elapsed_s, s.tokens_per_s, s.best_val_loss,
                 s.skipped ? ", " + std::to_string(s.skipped) + " steps skipped" : std::string(), opt.out_dir);
    if (s.stopped_by_time_limit && cfg.train.schedule == "time")
      spdlog::info("time limit of {:g}s reached after {} steps (train.time_limit_s, the budget the rate anneals "
                   "over); {}",
                   cfg.train.time_limit_s, s.steps_done, extend_budget(opt.out_dir, cfg.train.time_limit_s));
    else if (s.stopped_by_time_limit)
      spdlog::info("time limit of {:g}s reached after {} of {} steps (train.time_limit_s, per session); another "
                   "session: spectral train --resume {}",
                   cfg.train.time_limit_s, s.steps_done, cfg.train.steps, opt.out_dir);
    else if (!s.complete)
      spdlog::info("{} of {} steps done; continue with: spectral train --resume {}", s.steps_done, cfg.train.steps,
                   opt.out_dir);
    say_metrics(opt.out_dir);
    return 0;
  };
  return sub;
}

}  // namespace spectral
