// threads: the one place that sets how many threads OpenBLAS and the engine's OpenMP loops use.
// Nothing else in the code base calls omp_set_num_threads or openblas_set_num_threads.
#pragma once

namespace spectral {

// Sets OpenBLAS and OpenMP to n threads; n <= 0 means all cores. Returns the count in force.
int set_threads(int n);
// The count last set (all cores until set_threads is called).
int num_threads();

}  // namespace spectral
