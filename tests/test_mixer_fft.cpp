// The fft mixer layer (projections + causal FFT convolution + gate): gradients, causality,
// incremental generation.
#include "mixer_checks.h"

using namespace spectral;
using namespace spectral::testing;

TEST(FftMixer, GradientMatchesFiniteDifferencesWithGate) {
  auto cfg = small_model_config(6, 2, 9);
  std::string worst;
  double e = mixer_gradient_error("fft", cfg, 2, 7, &worst);
  EXPECT_LT(e, kGradTol) << worst;
}

TEST(FftMixer, GradientMatchesFiniteDifferencesWithoutGate) {
  auto cfg = small_model_config(5, 1, 7);
  cfg.fft.gate = false;
  std::string worst;
  double e = mixer_gradient_error("fft", cfg, 1, 5, &worst);
  EXPECT_LT(e, kGradTol) << worst;
}

TEST(FftMixer, IsCausal) {
  auto cfg = small_model_config(16, 2, 64);
  for (int t0 : {1, 20, 63}) EXPECT_LT(mixer_causality_leak("fft", cfg, 2, 64, t0), 1e-5) << "t0=" << t0;
}

TEST(FftMixer, IncrementalStepEqualsFullForward) {
  auto cfg = small_model_config(16, 2, 200);
  EXPECT_LT(mixer_incremental_error("fft", cfg, 200), 1e-4);
}
