// fft_plan: FFTW real transforms of one row, planned once per length and cached, executed with
// FFTW's new-array functions so that many threads can transform different rows with one plan.
#pragma once

#include <complex>
#include <cstddef>

namespace spectral {

// Row strides that keep every row of a buffer as aligned as FFTW's own planning arrays (64 bytes).
inline int fft_real_stride(int n) { return (n + 15) / 16 * 16; }
inline int fft_bins(int n) { return n / 2 + 1; }
inline int fft_complex_stride(int n) { return (fft_bins(n) + 7) / 8 * 8; }

// Smallest transform length >= 2*T whose only prime factors are 2, 3 and 5 (linear, not circular,
// convolution of two length-T signals fits in it).
int fft_padded_length(int T);

template <typename T>
class RealFft {
 public:
  int n = 0;
  // r2c: in has n reals (left unchanged), out gets n/2+1 bins. Unnormalized.
  void forward(const T* in, std::complex<T>* out) const;
  // c2r: in has n/2+1 bins and is destroyed, out gets n reals. Unnormalized (scale by 1/n).
  void inverse(std::complex<T>* in, T* out) const;
  void* plan_r2c = nullptr;
  void* plan_c2r = nullptr;
};

// The cached plan pair for length n (created on first use under a lock; call it outside parallel
// regions the first time, or accept the lock).
template <typename T>
const RealFft<T>& real_fft(int n);

// 64-byte aligned allocation that FFTW's new-array execute accepts.
void* fft_aligned_alloc(size_t bytes);
void fft_aligned_free(void* p);

// Room for `rows` rows of one length-N transform, real and complex (fft_real_stride and
// fft_complex_stride apart), grown on demand and never shrunk. Each op keeps its own thread_local
// one, so that no op's buffer is regrown under another's pointer.
template <typename T>
struct FftRowsScratch {
  T* real = nullptr;
  std::complex<T>* cplx = nullptr;
  size_t real_cap = 0, cplx_cap = 0;
  void ensure(int rows, int N) {
    const size_t r = size_t(rows) * fft_real_stride(N), c = size_t(rows) * fft_complex_stride(N);
    if (r > real_cap) {
      fft_aligned_free(real);
      real = static_cast<T*>(fft_aligned_alloc(r * sizeof(T)));
      real_cap = r;
    }
    if (c > cplx_cap) {
      fft_aligned_free(cplx);
      cplx = static_cast<std::complex<T>*>(fft_aligned_alloc(c * sizeof(std::complex<T>)));
      cplx_cap = c;
    }
  }
  FftRowsScratch() = default;
  FftRowsScratch(const FftRowsScratch&) = delete;
  FftRowsScratch& operator=(const FftRowsScratch&) = delete;
  ~FftRowsScratch() {
    fft_aligned_free(real);
    fft_aligned_free(cplx);
  }
};

}  // namespace spectral
