// train_command: `spectral train --config FILE [--set key=value ...] [--out DIR]`.
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "config/config.h"
#include "train/trainer.h"
#include "util/threads.h"

namespace spectral {

CLI::App* add_train_command(CLI::App& app, Action* action) {
  struct Args {
    std::string config_path, out_dir = "runs/latest";
    std::vector<std::string> sets;
    int threads = 0;
    bool no_progress = false, help_config = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand("train", "Train a model from a JSON config");
  sub->add_option("--config", args->config_path, "JSON config file (sections model, train, data); keys not given keep their defaults");
  sub->add_option("--set", args->sets, "Override a config key: --set train.steps=100 (repeatable; value read as JSON, else string)")
      ->take_all()
      ->allow_extra_args(false);
  sub->add_option("--out", args->out_dir, "Output directory: config.json, metrics.jsonl, last/best.safetensors")
      ->capture_default_str();
  sub->add_flag("--no-progress", args->no_progress, "No progress line on stderr");
  sub->add_flag("--help-config", args->help_config, "Print every config key with its default and meaning, then exit");
  add_threads_option(sub, &args->threads);
  *action = [args]() -> int {
    if (args->help_config) {
      std::cout << describe_defaults();
      return 0;
    }
    nlohmann::json j = args->config_path.empty() ? nlohmann::json::object() : read_json_file(args->config_path);
    for (const auto& s : args->sets) apply_override(j, s);
    const Config cfg = config_from_json(j);
    set_threads(args->threads);
    TrainOptions opt;
    opt.out_dir = args->out_dir;
    opt.progress = !args->no_progress;
    const TrainSummary s = run_training(cfg, opt);
    spdlog::info("done: {} steps in {:.1f}s, {:.0f} tokens/s, best val loss {:.4f}, checkpoints in {}", s.steps_done,
                 s.elapsed_s, s.tokens_per_s, s.best_val_loss, args->out_dir);
    return 0;
  };
  return sub;
}

}  // namespace spectral
