// distributed: the Communicator over MPI_COMM_WORLD, or a world of one.
#include "util/distributed.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>

#include "util/errors.h"

#ifdef SPECTRAL_MPI
#include <mpi.h>
#endif

namespace spectral {

namespace {
Communicator g_world;
bool g_started = false;

// The number of processes a launcher (Open MPI's mpirun, MPICH, Slurm) says this job has; 0 when
// the program was not started by one.
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return std::getenv("PMIX_RANK") || std::getenv("PMI_RANK") ? 1 : 0;
}

#ifdef SPECTRAL_MPI
// MPI counts are ints: large buffers go in pieces.
template <typename F>
void in_chunks(size_t n, F&& f) {
  constexpr size_t kChunk = size_t(1) << 30;
  for (size_t at = 0; at < n; at += kChunk) f(at, int(std::min(kChunk, n - at)));
}
#endif
}  // namespace

namespace {
bool g_failure_shared = false;
}
void mark_failure_shared() { g_failure_shared = true; }
bool failure_shared() { return g_failure_shared; }

bool mpi_enabled() {
#ifdef SPECTRAL_MPI
  return true;
#else
  return false;
#endif
}

const Communicator& init_world(int* argc, char*** argv) {
  const int launched = launcher_world_size();
#ifdef SPECTRAL_MPI
  // A plain start is a world of one without MPI at all: starting MPI alone ("singleton") would
  // spawn a runtime daemon for nothing.
  if (launched == 0) return g_world;
  int provided = 0;
  // OpenMP threads run between MPI calls, which only the main thread makes.
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  g_started = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  // errors in a collective end the job (the default), so a dead peer never leaves others waiting
#else
  (void)argc;
  (void)argv;
  const int n = launched;
  if (n > 1)
    throw InputError("this spectral was built without MPI (-DSPECTRAL_MPI=OFF) but was started as one of " +
                     std::to_string(n) + " processes; rebuild with MPI, or run it without mpirun");
#endif
  return g_world;
}

const Communicator& world() { return g_world; }

void finalize_world() {
#ifdef SPECTRAL_MPI
  if (g_started) {
    MPI_Finalize();
    g_started = false;
  }
#endif
}

void Communicator::sum(float* x, size_t n) const {
  if (size == 1) return;
#ifdef SPECTRAL_MPI
  const auto t0 = std::chrono::steady_clock::now();
  in_chunks(n, [&](size_t at, int k) { MPI_Allreduce(MPI_IN_PLACE, x + at, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); });
  reduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#endif
}

void Communicator::sum(double* x, size_t n) const {
  if (size == 1) return;
#ifdef SPECTRAL_MPI
  in_chunks(n, [&](size_t at, int k) { MPI_Allreduce(MPI_IN_PLACE, x + at, k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); });
#endif
}

double Communicator::sum(double x) const {
  sum(&x, 1);
  return x;
}

void Communicator::max(double* x, size_t n) const {
  if (size == 1) return;
#ifdef SPECTRAL_MPI
  in_chunks(n, [&](size_t at, int k) { MPI_Allreduce(MPI_IN_PLACE, x + at, k, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); });
#endif
}

void Communicator::broadcast(std::string& bytes) const {
  if (size == 1) return;
#ifdef SPECTRAL_MPI
  double n = double(bytes.size());
  broadcast(&n, 1);
  bytes.resize(size_t(n));
  in_chunks(bytes.size(), [&](size_t at, int k) { MPI_Bcast(&bytes[at], k, MPI_CHAR, 0, MPI_COMM_WORLD); });
#endif
}

void Communicator::broadcast(std::vector<int32_t>& values) const {
  if (size == 1) return;
#ifdef SPECTRAL_MPI
  double n = double(values.size());
  broadcast(&n, 1);
  values.resize(size_t(n));
  in_chunks(values.size(), [&](size_t at, int k) { MPI_Bcast(values.data() + at, k, MPI_INT32_T, 0, MPI_COMM_WORLD); });
#endif
}

void Communicator::broadcast(double* x, size_t n) const {
  if (size == 1) return;
#ifdef SPECTRAL_MPI
  in_chunks(n, [&](size_t at, int k) { MPI_Bcast(x + at, k, MPI_DOUBLE, 0, MPI_COMM_WORLD); });
#endif
}

void Communicator::broadcast(float* x, size_t n) const {
  if (size == 1) return;
#ifdef SPECTRAL_MPI
  in_chunks(n, [&](size_t at, int k) { MPI_Bcast(x + at, k, MPI_FLOAT, 0, MPI_COMM_WORLD); });
#endif
}

void Communicator::abort(int code) const {
#ifdef SPECTRAL_MPI
  if (g_started && size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

}  // namespace spectral
