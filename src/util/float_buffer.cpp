// float_buffer: aligned allocation, moves, random fill.
#include "util/float_buffer.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace spectral {

FloatBuffer::FloatBuffer(size_t n) : n_(n) {
  const size_t bytes = (std::max<size_t>(n, 1) * sizeof(float) + 63) / 64 * 64;
  p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p_) throw std::bad_alloc();
  std::memset(p_, 0, bytes);  // touch every page now, not inside a timed run
}
FloatBuffer::FloatBuffer(FloatBuffer&& o) noexcept : p_(o.p_), n_(o.n_) {
  o.p_ = nullptr;
  o.n_ = 0;
}
FloatBuffer& FloatBuffer::operator=(FloatBuffer&& o) noexcept {
  if (this != &o) {
    std::free(p_);
    p_ = o.p_;
    n_ = o.n_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}
FloatBuffer::~FloatBuffer() { std::free(p_); }
void FloatBuffer::fill_normal(std::mt19937_64& rng, double stddev) {
  std::normal_distribution<float> normal(0.f, float(stddev));
  for (size_t i = 0; i < n_; i++) p_[i] = normal(rng);
}
void FloatBuffer::zero() {
  if (p_) std::memset(p_, 0, n_ * sizeof(float));
}

}  // namespace spectral
