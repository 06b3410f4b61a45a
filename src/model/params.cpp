// params: ParamLayout bookkeeping.
#include "model/params.h"

#include <stdexcept>

namespace spectral {

size_t ParamLayout::add(const std::string& name, std::vector<int> shape, Init init, double init_std, bool decay) {
  if (find(name)) throw std::logic_error("duplicate parameter name " + name);
  ParamSpec s;
  s.name = name;
  s.shape = std::move(shape);
  s.size = 1;
  for (int d : s.shape) s.size *= static_cast<size_t>(d);
  s.offset = total_;
  s.init = init;
  s.init_std = init_std;
  s.decay = decay;
  // keep every tensor 64-byte aligned inside the arena (16 floats)
  total_ += (s.size + 15) / 16 * 16;
  specs_.push_back(std::move(s));
  return specs_.back().offset;
}

const ParamSpec* ParamLayout::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

template <typename T>
void init_params(T* p, const ParamLayout& L, std::mt19937_64& rng, double jitter) {
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const auto& s : L.specs()) {
    for (size_t i = 0; i < s.size; i++) {
      double v = 0;
      if (s.init == Init::Normal) v = s.init_std * normal(rng);
      if (s.init == Init::Ones) v = 1.0 + (jitter > 0 ? jitter * normal(rng) : 0.0);
      if (s.init == Init::Zeros && jitter > 0) v = jitter * normal(rng);
      p[s.offset + i] = T(v);
    }
  }
}

template void init_params<float>(float*, const ParamLayout&, std::mt19937_64&, double);
template void init_params<double>(double*, const ParamLayout&, std::mt19937_64&, double);

}  // namespace spectral
