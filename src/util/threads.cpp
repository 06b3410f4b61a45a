// threads: OpenBLAS + OpenMP thread count, set in one place. OpenBLAS is kept at one thread;
// the n threads are OpenMP's (see ops/gemm.cpp).
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
  // OpenBLAS stays single-threaded: ops/gemm splits products over the OpenMP pool instead, so
  // that only one pool of n threads ever exists.
  openblas_set_num_threads(1);
  omp_set_num_threads(n);
  g_threads = n;
  return n;
}

int num_threads() {
  if (g_threads == 0) set_threads(0);
  return g_threads;
}

}  // namespace spectral
