// fft_plan: cached FFTW plans (float and double), FFTW_ESTIMATE so that plans, and so results, are
// the same in every process (determinism across runs).
#include "ops/fft_plan.h"

#include <fftw3.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace spectral {

int fft_padded_length(int T) {
  int target = 2 * T;
  for (int n = target;; n++) {
    int m = n;
    for (int p : {2, 3, 5})
      while (m % p == 0) m /= p;
    if (m == 1) return n;
  }
}

void* fft_aligned_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) throw std::bad_alloc();
  return p;
}
void fft_aligned_free(void* p) { std::free(p); }

static std::mutex g_plan_mutex;

template <>
void RealFft<float>::forward(const float* in, std::complex<float>* out) const {
  fftwf_execute_dft_r2c(static_cast<fftwf_plan>(plan_r2c), const_cast<float*>(in),
                        reinterpret_cast<fftwf_complex*>(out));
}
template <>
void RealFft<float>::inverse(std::complex<float>* in, float* out) const {
  fftwf_execute_dft_c2r(static_cast<fftwf_plan>(plan_c2r), reinterpret_cast<fftwf_complex*>(in), out);
}
template <>
void RealFft<double>::forward(const double* in, std::complex<double>* out) const {
  fftw_execute_dft_r2c(static_cast<fftw_plan>(plan_r2c), const_cast<double*>(in),
                       reinterpret_cast<fftw_complex*>(out));
}
template <>
void RealFft<double>::inverse(std::complex<double>* in, double* out) const {
  fftw_execute_dft_c2r(static_cast<fftw_plan>(plan_c2r), reinterpret_cast<fftw_complex*>(in), out);
}

static RealFft<float> make_plan_float(int n) {
  RealFft<float> p;
  p.n = n;
  float* r = static_cast<float*>(fft_aligned_alloc(sizeof(float) * fft_real_stride(n)));
  auto* c = static_cast<fftwf_complex*>(fft_aligned_alloc(sizeof(fftwf_complex) * fft_complex_stride(n)));
  p.plan_r2c = fftwf_plan_dft_r2c_1d(n, r, c, FFTW_ESTIMATE);
  p.plan_c2r = fftwf_plan_dft_c2r_1d(n, c, r, FFTW_ESTIMATE);
  fft_aligned_free(r);
  fft_aligned_free(c);
  if (!p.plan_r2c || !p.plan_c2r) throw std::runtime_error("FFTW could not plan a transform of length " + std::to_string(n));
  return p;
}
static RealFft<double> make_plan_double(int n) {
  RealFft<double> p;
  p.n = n;
  double* r = static_cast<double*>(fft_aligned_alloc(sizeof(double) * fft_real_stride(n)));
  auto* c = static_cast<fftw_complex*>(fft_aligned_alloc(sizeof(fftw_complex) * fft_complex_stride(n)));
  p.plan_r2c = fftw_plan_dft_r2c_1d(n, r, c, FFTW_ESTIMATE);
  p.plan_c2r = fftw_plan_dft_c2r_1d(n, c, r, FFTW_ESTIMATE);
  fft_aligned_free(r);
  fft_aligned_free(c);
  if (!p.plan_r2c || !p.plan_c2r) throw std::runtime_error("FFTW could not plan a transform of length " + std::to_string(n));
  return p;
}

template <>
const RealFft<float>& real_fft<float>(int n) {
  // never destroyed (nor are the plans): they live as long as the process, and stay reachable for
  // LeakSanitizer instead of being dropped by static destruction with their FFTW plans
  static auto* cache = new std::map<int, std::unique_ptr<RealFft<float>>>;
  std::lock_guard<std::mutex> lock(g_plan_mutex);
  auto& slot = (*cache)[n];
  if (!slot) slot = std::make_unique<RealFft<float>>(make_plan_float(n));
  return *slot;
}
template <>
const RealFft<double>& real_fft<double>(int n) {
  // never destroyed (nor are the plans): they live as long as the process, and stay reachable for
  // LeakSanitizer instead of being dropped by static destruction with their FFTW plans
  static auto* cache = new std::map<int, std::unique_ptr<RealFft<double>>>;
  std::lock_guard<std::mutex> lock(g_plan_mutex);
  auto& slot = (*cache)[n];
  if (!slot) slot = std::make_unique<RealFft<double>>(make_plan_double(n));
  return *slot;
}

}  // namespace spectral
