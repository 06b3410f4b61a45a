// main: the `spectral` command line — wiring of the subcommands in src/cli/, the mapping of errors
// to exit codes (2: usage, config and input errors; 3: numerical faults; 1: anything else), and the
// process world (one process, or several under mpirun for `train` and `bench train`).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "cli/commands.h"
#include "config/config.h"
#include "util/distributed.h"
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

// The command's work, with errors mapped to exit codes.
static int run(CLI::App& app, int argc, char** argv, CLI::App* t, CLI::App* s, CLI::App* e, CLI::App* b,
               spectral::Action& train, spectral::Action& sample, spectral::Action& eval, spectral::Action& bench) {
  const spectral::Communicator& world = spectral::world();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& err) {
    if (!world.root()) return err.get_exit_code() == 0 ? 0 : 2;  // rank 0 says it
    return app.exit(err) == 0 ? 0 : 2;
  }
  try {
    if (world.size > 1 && !t->parsed() && !(b->parsed() && b->get_subcommands().size() == 1 &&
                                           b->get_subcommands()[0]->get_name() == "train")) {
      spectral::mark_failure_shared();
      throw spectral::InputError("only `spectral train` and `spectral bench train` run as several processes; start this "
                                 "command without mpirun");
    }
    if (t->parsed()) return train();
    if (s->parsed()) return sample();
    if (e->parsed()) return eval();
    if (b->parsed()) return bench();
  } catch (const spectral::QuietExit& q) {
    return q.code;
  } catch (const std::exception& err) {
    const int code = spectral::exit_code_of(err);
    if (world.size == 1 || world.root())
      std::fprintf(stderr, "error: %s\n", err.what());
    else if (!spectral::failure_shared())
      std::fprintf(stderr, "error (process %d of %d): %s\n", world.rank, world.size, err.what());
    // a failure only this process met leaves the others waiting for it: end the whole job
    if (world.size > 1 && !spectral::failure_shared()) world.abort(code);
    return code;
  }
  return 2;
}

int main(int argc, char** argv) {
  ensure_passive_openmp_wait(argv);
  // logs on stderr so that stdout stays clean for samples and --json
  spdlog::set_default_logger(spdlog::stderr_color_mt("spectral"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  try {
    spectral::init_world(&argc, &argv);
  } catch (const spectral::Error& err) {
    std::fprintf(stderr, "error: %s\n", err.what());
    return 2;
  }
  // with several processes, rank 0 speaks for the job; the others report only errors
  if (!spectral::world().root()) spdlog::set_level(spdlog::level::err);
  CLI::App app{"spectral: attention-free character language models on a CPU (train, sample, eval, bench)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "spectral 0.1");
  spectral::Action train, sample, eval, bench;
  auto* t = spectral::add_train_command(app, &train);
  auto* s = spectral::add_sample_command(app, &sample);
  auto* e = spectral::add_eval_command(app, &eval);
  auto* b = spectral::add_bench_command(app, &bench);
  const int code = run(app, argc, argv, t, s, e, b, train, sample, eval, bench);
  spectral::finalize_world();
  return code;
}
