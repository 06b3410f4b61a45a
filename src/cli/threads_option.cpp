// threads_option: the --threads flag every subcommand shares.
#include "cli/commands.h"

namespace spectral {

void add_threads_option(CLI::App* sub, int* threads) {
  sub->add_option("--threads", *threads, "Threads for OpenBLAS and the engine (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

}  // namespace spectral
