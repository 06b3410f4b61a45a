// mixer_factory: mixer name → mixer layer. The list of mixer names lives in config.cpp
// (kMixerNames); this is the one place that maps each to its class.
#include <stdexcept>

#include "model/mixer.h"
#include "model/mixer_attention.h"
#include "model/mixer_fft.h"
#include "model/mixer_rot.h"

namespace spectral {

template <typename T>
std::unique_ptr<Mixer<T>> make_mixer(const std::string& name, const ModelConfig& cfg) {
  if (name == "fft") return std::make_unique<FftMixer<T>>(cfg);
  if (name == "rot") return std::make_unique<RotMixer<T>>(cfg);
  if (name == "attention") return std::make_unique<AttentionMixer<T>>(cfg, cfg.context);
  if (name == "local") return std::make_unique<AttentionMixer<T>>(cfg, cfg.local.window);
  throw std::invalid_argument("unknown mixer \"" + name + "\"");
}

template std::unique_ptr<Mixer<float>> make_mixer<float>(const std::string&, const ModelConfig&);
template std::unique_ptr<Mixer<double>> make_mixer<double>(const std::string&, const ModelConfig&);

}  // namespace spectral
