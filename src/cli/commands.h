// commands: each subcommand registers its flags on the CLI11 app and returns the action that runs
// it. main.cpp only wires these together and maps errors to exit codes.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace spectral {

using Action = std::function<int()>;

// Adds the subcommand to app and stores its action in *action (run by main when it was chosen).
CLI::App* add_train_command(CLI::App& app, Action* action);
CLI::App* add_sample_command(CLI::App& app, Action* action);
CLI::App* add_eval_command(CLI::App& app, Action* action);
// `bench mixers | train | sample` (src/bench/): one action for the family, dispatching on the nested subcommand.
CLI::App* add_bench_command(CLI::App& app, Action* action);

// --threads N on a subcommand (default 0 = all cores), applied through util/threads before running.
void add_threads_option(CLI::App* sub, int* threads);

}  // namespace spectral
