// params: the layout of the one parameter arena. Every tensor is a named slice (offset, shape);
// gradients and AdamW moments use the same layout, so the optimizer is one flat loop and the
// checkpoint is a walk over the specs.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace spectral {

enum class Init { Normal, Zeros, Ones, Custom };

struct ParamSpec {
  std::string name;        // e.g. "layers.0.mixer.w_in" (documented in docs/model.md)
  std::vector<int> shape;
  size_t offset = 0;
  size_t size = 0;
  Init init = Init::Normal;
  double init_std = 0.02;  // for Init::Normal
  bool decay = true;       // AdamW weight decay applies (false for norms, biases, positions)
};

class ParamLayout {
 public:
  // Adds a tensor and returns its offset into the arena.
  size_t add(const std::string& name, std::vector<int> shape, Init init, double init_std, bool decay);
  const std::vector<ParamSpec>& specs() const { return specs_; }
  size_t total() const { return total_; }
  const ParamSpec* find(const std::string& name) const;

 private:
  std::vector<ParamSpec> specs_;
  size_t total_ = 0;
};

// Initial values for every tensor of L in p (layout-sized): Normal draws init_std·N(0,1), Ones 1,
// Zeros and Custom 0 (a Custom tensor's owner fills it afterwards). jitter > 0 (tests) adds
// jitter·N(0,1) to Ones and Zeros so that no value sits at a special point. Draws come from rng in
// layout order, Normal tensors only when jitter is 0.
template <typename T>
void init_params(T* p, const ParamLayout& L, std::mt19937_64& rng, double jitter = 0);

}  // namespace spectral
