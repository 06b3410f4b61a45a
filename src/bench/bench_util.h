// bench_util: what the `spectral bench` programs share — timing by medians after warm-up, the
// machine line, aligned random buffers, a plain-text table and CSV writer, a log-log fit and the
// sgemm peak measured through spectral::gemm. Benchmarks print tables; nothing here asserts a time.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "util/float_buffer.h"

namespace spectral::bench {

// How one figure is measured: `warmup` untimed runs, then timed runs until at least `repeats` runs
// and `min_total_s` seconds (short operations get more samples, up to `max_samples`), or — for slow
// ones — as soon as `budget_s` seconds are spent and at least `min_samples` runs are done.
struct TimingOptions {
  int warmup = 1;
  int repeats = 7;
  int min_samples = 3;
  int max_samples = 200;
  double min_total_s = 0.05;
  double budget_s = 3.0;
};

struct Timing {
  double median_ms = 0;
  double min_ms = 0;
  int samples = 0;
  double first_ms = 0;  // the first (warm-up) run, so callers can cap what comes next
};

double now_seconds();

// Times fn() as TimingOptions says; returns the median over the timed runs.
Timing time_median(const std::function<void()>& fn, const TimingOptions& opt);
double median(std::vector<double> v);

// "machine: nproc 2, AMD EPYC ..., threads 2, load average 1.05 0.98 0.90"
std::string machine_line(int threads);
std::string load_average();

// Least-squares slope of log(y) against log(x) (pairs with x, y > 0; NaN with fewer than 2).
double loglog_slope(const std::vector<double>& x, const std::vector<double>& y);

// Floats, 64-byte aligned and zeroed (util/float_buffer), filled by the caller.
using Buffer = FloatBuffer;

// A text table: columns with headers, right-aligned cells, printed with two spaces between.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::FILE* out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// CSV rows with a header; fields are written as given (callers pass numbers and plain words).
class Csv {
 public:
  // path empty: a no-op writer.
  Csv(const std::string& path, const std::vector<std::string>& header);
  void row(const std::vector<std::string>& fields);
  ~Csv();
  Csv(const Csv&) = delete;
  Csv& operator=(const Csv&) = delete;

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
};

// printf-style formatting into a std::string.
std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
// A figure with about 3-4 significant digits ("0.0123", "12.3", "1234").
std::string num(double v);

// Peak single-precision GFLOP/s of C = A·B (n×n) through spectral::gemm on the threads in force
// (the engine's OpenMP split over single-threaded OpenBLAS calls): median of several products.
struct PeakResult {
  double gflops = 0;
  double ms = 0;
  int n = 0;
};
PeakResult measure_sgemm_peak(int n, const TimingOptions& opt);

}  // namespace spectral::bench
