// main: the `spectral` command line — wiring of the subcommands in src/cli/ and the mapping of
// errors to exit codes (2: usage, config and input errors; 3: numerical faults; 1: anything else).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "cli/commands.h"
#include "config/config.h"
#include "util/errors.h"

// OpenMP threads that spin while waiting steal the core that the other thread (or another process)
// needs on a 2-core machine: on a busy machine this made evaluation 3x slower than one thread.
// libgomp reads its wait policy when it loads, before main, so the first start sets the policy
// and re-executes itself; a policy set by the user is left alone.
static void ensure_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
}

int main(int argc, char** argv) {
  ensure_passive_openmp_wait(argv);
  // logs on stderr so that stdout stays clean for samples and --json
  spdlog::set_default_logger(spdlog::stderr_color_mt("spectral"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  CLI::App app{"spectral: attention-free character language models on a CPU (train, sample, eval, bench)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "spectral 0.1");
  spectral::Action train, sample, eval, bench;
  auto* t = spectral::add_train_command(app, &train);
  auto* s = spectral::add_sample_command(app, &sample);
  auto* e = spectral::add_eval_command(app, &eval);
  auto* b = spectral::add_bench_command(app, &bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& err) {
    return app.exit(err) == 0 ? 0 : 2;
  }
  try {
    if (t->parsed()) return train();
    if (s->parsed()) return sample();
    if (e->parsed()) return eval();
    if (b->parsed()) return bench();
  } catch (const spectral::NumericalError& err) {
    std::fprintf(stderr, "error: %s\n", err.what());
    return 3;
  } catch (const spectral::Error& err) {
    std::fprintf(stderr, "error: %s\n", err.what());
    return 2;
  } catch (const std::exception& err) {
    std::fprintf(stderr, "error: %s\n", err.what());
    return 1;
  }
  return 2;
}
