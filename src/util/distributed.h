// distributed: the processes that train one model together (data parallelism over Open MPI), in one
// small struct passed to the few places that need it: rank, world size, and the collectives they
// use (sums, maxima, broadcasts from rank 0). A program started without mpirun, or built without
// MPI (SPECTRAL_MPI=OFF), is a world of one process where every collective is the identity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "util/errors.h"

namespace spectral {

struct Communicator {
  int rank = 0;
  int size = 1;
  bool root() const { return rank == 0; }

  // In-place sums over all processes (every process ends with the same values).
  void sum(float* x, size_t n) const;
  void sum(double* x, size_t n) const;
  double sum(double x) const;
  // Element-wise maxima over all processes, in place.
  void max(double* x, size_t n) const;
  // Rank 0's value on every process.
  void broadcast(std::string& bytes) const;
  void broadcast(std::vector<int32_t>& values) const;
  void broadcast(double* x, size_t n) const;
  void broadcast(float* x, size_t n) const;
  // Ends every process of the job with this exit code (a process that cannot go on alone).
  [[noreturn]] void abort(int code) const;
  // Seconds spent inside sum(float*) since the start (gradient reductions).
  double reduce_seconds() const { return reduce_seconds_; }

 private:
  mutable double reduce_seconds_ = 0;
};

// Thrown on the other processes when rank 0 failed and reports the failure itself: they end
// quietly with the same exit code.
struct QuietExit {
  int code;
};

// Whether every process knows of the failure being reported (so they all end on their own); a
// failure only one process met must end the whole job instead (Communicator::abort).
void mark_failure_shared();
bool failure_shared();

// Runs setup on rank 0 only and lets every process know how it went: an error there is rethrown
// on rank 0 and becomes QuietExit (same exit code) on the others. One process: just setup().
template <typename Setup>
void on_root(const Communicator& comm, Setup&& setup) {
  if (comm.size == 1) {
    setup();
    return;
  }
  double code = 0;
  std::exception_ptr failure;
  if (comm.root()) {
    try {
      setup();
    } catch (const std::exception& e) {
      code = exit_code_of(e);
      failure = std::current_exception();
    }
  }
  comm.broadcast(&code, 1);
  if (code != 0) mark_failure_shared();
  if (failure) std::rethrow_exception(failure);
  if (code != 0) throw QuietExit{int(code)};
}

// Starts MPI when the program runs under a launcher (a world of one otherwise) and returns the
// world. A launch of several processes into a build without MPI is refused (InputError): they would
// be independent runs writing the same files.
const Communicator& init_world(int* argc, char*** argv);
// The world init_world made (a world of one before it).
const Communicator& world();
// Ends MPI if it was started (call once, on the way out of main).
void finalize_world();
// True when this build can run several processes.
bool mpi_enabled();

}  // namespace spectral
