// bench_util: timing, machine description, buffers, tables, CSV, fits and the sgemm peak.
#include "bench/bench_util.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <thread>

#include "ops/gemm.h"
#include "util/errors.h"

namespace spectral::bench {

double now_seconds() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

Timing time_median(const std::function<void()>& fn, const TimingOptions& opt) {
  Timing r;
  for (int i = 0; i < std::max(opt.warmup, 0); i++) {
    const double t0 = now_seconds();
    fn();
    if (i == 0) r.first_ms = 1e3 * (now_seconds() - t0);
  }
  std::vector<double> ms;
  double total = 0;
  for (;;) {
    const double t0 = now_seconds();
    fn();
    const double dt = now_seconds() - t0;
    if (opt.warmup <= 0 && ms.empty()) r.first_ms = 1e3 * dt;
    ms.push_back(1e3 * dt);
    total += dt;
    const int n = (int)ms.size();
    if (n >= opt.max_samples) break;
    if (n >= opt.repeats && total >= opt.min_total_s) break;
    if (n >= std::max(1, opt.min_samples) && total >= opt.budget_s) break;
  }
  r.samples = (int)ms.size();
  r.min_ms = *std::min_element(ms.begin(), ms.end());
  r.median_ms = median(std::move(ms));
  return r;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  if (!(in >> a >> b >> c)) return "?";
  return fmt("%.2f %.2f %.2f", a, b, c);
}

std::string machine_line(int threads) {
  std::string cpu = "unknown CPU";
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        cpu = line.substr(colon + 1);
        cpu.erase(0, cpu.find_first_not_of(" \t"));
      }
      break;
    }
  }
  const unsigned nproc = std::thread::hardware_concurrency();
  return fmt("machine: nproc %u, %s, threads %d, load average %s", nproc, cpu.c_str(), threads,
             load_average().c_str());
}

double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); i++) {
    if (!(x[i] > 0) || !(y[i] > 0) || !std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    const double lx = std::log(x[i]), ly = std::log(y[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
    n++;
  }
  if (n < 2) return NAN;
  const double den = n * sxx - sx * sx;
  return den == 0 ? NAN : (n * sxy - sx * sy) / den;
}

void Table::print(std::FILE* out) const {
  std::vector<size_t> w(headers_.size(), 0);
  for (size_t j = 0; j < headers_.size(); j++) w[j] = headers_[j].size();
  for (const auto& r : rows_)
    for (size_t j = 0; j < r.size() && j < w.size(); j++) w[j] = std::max(w[j], r[j].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t j = 0; j < w.size(); j++) {
      const std::string c = j < cells.size() ? cells[j] : "";
      if (j) s += "  ";
      // the last column (notes) is left-aligned, the others right-aligned
      if (j + 1 == w.size() && j > 0)
        s += c;
      else
        s += std::string(w[j] - c.size(), ' ') + c;
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::fprintf(out, "%s\n", s.c_str());
  };
  line(headers_);
  std::string rule;
  for (size_t j = 0; j < w.size(); j++) rule += (j ? "  " : "") + std::string(w[j], '-');
  std::fprintf(out, "%s\n", rule.c_str());
  for (const auto& r : rows_) line(r);
  std::fflush(out);
}

Csv::Csv(const std::string& path, const std::vector<std::string>& header) : path_(path) {
  if (path.empty()) return;
  f_ = std::fopen(path.c_str(), "w");
  if (!f_) throw IoError("csv " + path + ": cannot be written: " + std::strerror(errno));
  row(header);
}
void Csv::row(const std::vector<std::string>& fields) {
  if (!f_) return;
  for (size_t i = 0; i < fields.size(); i++) std::fprintf(f_, "%s%s", i ? "," : "", fields[i].c_str());
  std::fprintf(f_, "\n");
  std::fflush(f_);
}
Csv::~Csv() {
  if (f_) std::fclose(f_);
}

std::string fmt(const char* format, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  return buf;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "n/a";
  const double a = std::fabs(v);
  if (a >= 1000) return fmt("%.0f", v);
  if (a >= 100) return fmt("%.1f", v);
  if (a >= 10) return fmt("%.2f", v);
  if (a >= 1) return fmt("%.3f", v);
  if (a >= 0.01) return fmt("%.4f", v);
  return fmt("%.3g", v);
}

PeakResult measure_sgemm_peak(int n, const TimingOptions& opt) {
  std::mt19937_64 rng(7);
  Buffer A((size_t)n * n), B((size_t)n * n), C((size_t)n * n);
  A.fill_normal(rng, 1.0);
  B.fill_normal(rng, 1.0);
  const Timing t = time_median(
      [&] { gemm(false, false, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n); }, opt);
  PeakResult r;
  r.n = n;
  r.ms = t.median_ms;
  r.gflops = 2.0 * n * n * n / (t.median_ms * 1e-3) / 1e9;
  return r;
}

}  // namespace spectral::bench
