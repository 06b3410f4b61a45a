// threads: the one place that sets how many threads OpenBLAS and the engine's OpenMP loops use.
// Nothing else in the code base calls omp_set_num_threads or openblas_set_num_threads.
#pragma once

namespace spectral {

// Sets OpenBLAS and OpenMP to n threads; n <= 0 means all cores. Returns the count in force.
int set_threads(int n);
// The count last set (all cores until set_threads is called).
int num_threads();

}  // namespace spectral

namespace spectral {
// Loops over fewer elements than this run on one thread (`#pragma omp parallel for if(...)`): a
// fork/join costs more than it saves there, and on a busy machine a barrier can wait a whole
// scheduler time slice.
constexpr long kMinParallelWork = 1L << 15;
}  // namespace spectral
