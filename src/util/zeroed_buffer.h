// zeroed_buffer: n values that read as zero from the start without being written. A large buffer is
// a fresh anonymous mapping, whose pages the kernel supplies (zeroed) on their first write: a big
// state whose rows fill up as a sequence advances costs nothing up front for the rows never reached
// (std::vector's assign(n, 0) writes every page at once). Small ones come from calloc.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace spectral {

template <typename T>
class ZeroedBuffer {
 public:
  ZeroedBuffer() = default;
  explicit ZeroedBuffer(size_t n) : n_(n) {
    if (n == 0) return;
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMapBytes) {
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      p_ = static_cast<T*>(p);
      mapped_ = true;
    } else {
      p_ = static_cast<T*>(std::calloc(n, sizeof(T)));
      if (!p_) throw std::bad_alloc();
    }
  }
  ZeroedBuffer(ZeroedBuffer&& o) noexcept { swap(o); }
  ZeroedBuffer& operator=(ZeroedBuffer&& o) noexcept {
    ZeroedBuffer(std::move(o)).swap(*this);
    return *this;
  }
  ZeroedBuffer(const ZeroedBuffer&) = delete;
  ZeroedBuffer& operator=(const ZeroedBuffer&) = delete;
  ~ZeroedBuffer() {
    if (mapped_)
      ::munmap(p_, n_ * sizeof(T));
    else
      std::free(p_);
  }

  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }
  const T* begin() const { return p_; }
  const T* end() const { return p_ + n_; }
  // Back to all zeros (every page written).
  void fill_zero() {
    if (n_) std::memset(p_, 0, n_ * sizeof(T));
  }
  void swap(ZeroedBuffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(mapped_, o.mapped_);
  }

 private:
  static constexpr size_t kMapBytes = size_t(1) << 20;
  T* p_ = nullptr;
  size_t n_ = 0;
  bool mapped_ = false;
};

}  // namespace spectral
