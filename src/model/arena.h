// arena: one activation allocation. Layers ask for their buffers in a fixed order twice: a first
// pass only counts (take() returns nullptr), then the arena allocates once and a second pass hands
// out the real pointers. Nothing is allocated inside forward or backward. rewind() lets several
// users share the same memory (the scratch arena: each layer's temporaries reuse one region, sized
// by the largest user).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <stdexcept>

namespace spectral {

template <typename T>
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() { std::free(base_); }

  // Counting pass: returns nullptr. Handing-out pass: the next n values (64-byte aligned).
  T* take(size_t n) {
    size_t at = used_;
    used_ += (n + 15) / 16 * 16;
    if (used_ > peak_) peak_ = used_;
    if (!base_) return nullptr;
    if (used_ > capacity_) throw std::logic_error("arena: handing-out pass asked for more than it counted");
    return base_ + at;
  }
  // Ends the counting pass: allocates what was counted and rewinds for the handing-out pass.
  void allocate() {
    std::free(base_);
    capacity_ = peak_;
    base_ = static_cast<T*>(std::aligned_alloc(64, (capacity_ * sizeof(T) + 63) / 64 * 64 + 64));
    if (!base_) throw std::bad_alloc();
    used_ = 0;
  }
  // Starts a new counting pass (the old memory stays until allocate()).
  void reset() {
    std::free(base_);
    base_ = nullptr;
    used_ = capacity_ = peak_ = 0;
  }
  // Next take() starts again at the beginning (shares memory with earlier takes).
  void rewind() { used_ = 0; }
  bool counting() const { return base_ == nullptr; }
  size_t bytes() const { return capacity_ * sizeof(T); }
  // What the counting pass asked for so far, in bytes (what allocate() would take).
  size_t counted_bytes() const { return peak_ * sizeof(T); }

 private:
  T* base_ = nullptr;
  size_t used_ = 0, capacity_ = 0, peak_ = 0;
};

// The count / allocate / hand out sequence for a pair of arenas: bind() takes every buffer from
// saved and scratch in a fixed order; it runs once to count and once to hand out the memory.
template <typename T, typename Bind>
void bind_arenas(Arena<T>& saved, Arena<T>& scratch, Bind&& bind) {
  saved.reset();
  scratch.reset();
  bind();
  saved.allocate();
  scratch.allocate();
  bind();
}

}  // namespace spectral
