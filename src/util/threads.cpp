// threads: OpenBLAS + OpenMP thread count, set in one place.
#include "util/threads.h"

#include <omp.h>
#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);

namespace spectral {

static int g_threads = 0;

int set_threads(int n) {
  if (n <= 0) {
    n = static_cast<int>(std::thread::hardware_concurrency());
    if (n <= 0) n = 1;
  }
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
  g_threads = n;
  return n;
}

int num_threads() {
  if (g_threads == 0) set_threads(0);
  return g_threads;
}

}  // namespace spectral
