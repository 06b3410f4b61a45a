// main: the `spectral` command line — wiring of the subcommands in src/cli/, the mapping of errors
// to exit codes (2: usage, config and input errors; 3: numerical faults; 1: anything else), and the
// process world (one process, or several under mpirun for `train` and `bench train`). Command-line
// conventions: every error is one line "error: ..."; a repeated option takes its last value; an
// unknown command is named as such; NO_COLOR turns colour off.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>
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

// Levenshtein distance, for "did you mean".
static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// A word where a (nested) command is expected that names none: "unknown command" with the list and
// the nearest name, rather than CLI11's "A subcommand is required". Empty when the words are fine.
static std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "spectral";
  for (int i = 1; i < argc; i++) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return "";  // options (and their values) are CLI11's business
    const auto subs = at->get_subcommands([](const CLI::App*) { return true; });
    if (subs.empty()) return "";
    const CLI::App* next = nullptr;
    std::string names, nearest;
    size_t best = 3;  // suggest only names at most 2 edits away
    for (const CLI::App* s : subs) {
      if (s->get_name() == word) next = s;
      names += (names.empty() ? "" : ", ") + s->get_name();
      const size_t d = edit_distance(word, s->get_name());
      if (d < best) best = d, nearest = s->get_name();
    }
    if (!next)
      return "unknown command \"" + word + "\" for " + path + " (commands: " + names + ")" +
             (nearest.empty() ? "" : "; did you mean " + path + " " + nearest + "?");
    at = next;
    path += " " + word;
  }
  return "";
}

// CLI11's usage errors as one line, like every other error.
static std::string one_line_failure(const CLI::App*, const CLI::Error& e) {
  return "error: " + std::string(e.what()) + " (see spectral --help)\n";
}

// The command's work, with errors mapped to exit codes.
static int run(CLI::App& app, int argc, char** argv, CLI::App* t, CLI::App* s, CLI::App* e, CLI::App* b,
               spectral::Action& train, spectral::Action& sample, spectral::Action& eval, spectral::Action& bench) {
  const spectral::Communicator& world = spectral::world();
  const std::string unknown = unknown_command(app, argc, argv);
  if (!unknown.empty()) {
    if (world.root()) std::fprintf(stderr, "error: %s\n", unknown.c_str());
    return 2;
  }
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
    const bool oom = dynamic_cast<const std::bad_alloc*>(&err) != nullptr;
    const std::string what = oom ? "out of memory (an allocation failed; lower train.batch_size, model.context or "
                                   "model.d_model, or stop other programs)"
                                 : err.what();
    if (world.size == 1 || world.root())
      std::fprintf(stderr, "error: %s\n", what.c_str());
    else if (!spectral::failure_shared())
      std::fprintf(stderr, "error (process %d of %d): %s\n", world.rank, world.size, what.c_str());
    // a failure only this process met leaves the others waiting for it: end the whole job
    if (world.size > 1 && !spectral::failure_shared()) world.abort(code);
    return code;
  }
  return 2;
}

int main(int argc, char** argv) {
  ensure_passive_openmp_wait(argv);
  // logs on stderr so that stdout stays clean for samples and --json; NO_COLOR (no-color.org), when
  // set and not empty, turns colour off
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color)
    spdlog::set_default_logger(spdlog::stderr_logger_mt("spectral"));
  else
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
  app.failure_message(one_line_failure);
  app.footer("Each command lists its options with: spectral COMMAND --help. A checkpoint may be named by its run "
             "directory (best.safetensors, else last.safetensors); - is standard input or output where a file is "
             "read or written. NO_COLOR=1 turns colour off.");
  // a repeated option takes its last value (the subcommands inherit this; --set collects them all)
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  spectral::Action train, sample, eval, bench;
  auto* t = spectral::add_train_command(app, &train);
  auto* s = spectral::add_sample_command(app, &sample);
  auto* e = spectral::add_eval_command(app, &eval);
  auto* b = spectral::add_bench_command(app, &bench);
  const int code = run(app, argc, argv, t, s, e, b, train, sample, eval, bench);
  spectral::finalize_world();
  return code;
}
