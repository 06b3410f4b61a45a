// float_buffer: an owned array of floats, 64-byte aligned (what FFTW's new-array execute expects)
// and zeroed when made (every page touched then, not inside a timed run). For the random inputs of
// the benchmarks' cases; the engine's own memory lives in the model's arenas.
#pragma once

#include <cstddef>
#include <random>

namespace spectral {

class FloatBuffer {
 public:
  FloatBuffer() = default;
  explicit FloatBuffer(size_t n);
  FloatBuffer(FloatBuffer&& o) noexcept;
  FloatBuffer& operator=(FloatBuffer&& o) noexcept;
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;
  ~FloatBuffer();
  float* data() { return p_; }
  const float* data() const { return p_; }
  size_t size() const { return n_; }
  void fill_normal(std::mt19937_64& rng, double stddev);
  void zero();

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace spectral
