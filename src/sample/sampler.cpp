// sampler: token choice and the generation loop.
#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace spectral {

int32_t pick_token(const float* logits, int V, const SamplingOptions& opt, std::mt19937_64& rng,
                   std::vector<float>& p) {
  if (opt.temperature <= 0) return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  p.resize(V);
  const float mx = *std::max_element(logits, logits + V);
  for (int v = 0; v < V; v++) p[v] = std::exp((logits[v] - mx) / float(opt.temperature));
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
  int keep = V;
  if (opt.top_k > 0) keep = std::min(keep, opt.top_k);
  double total = 0;
  for (int i = 0; i < keep; i++) total += p[order[i]];
  if (opt.top_p < 1.0) {
    double acc = 0;
    for (int i = 0; i < keep; i++) {
      acc += p[order[i]] / total;
      if (acc >= opt.top_p) {
        keep = i + 1;
        break;
      }
    }
    total = 0;
    for (int i = 0; i < keep; i++) total += p[order[i]];
  }
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng), acc = 0;
  for (int i = 0; i < keep; i++) {
    acc += p[order[i]];
    if (r < acc) return order[i];
  }
  return order[keep - 1];
}

std::vector<int32_t> generate(Model<float>& model, const std::vector<int32_t>& prompt, int n_new,
                              const SamplingOptions& sopt, const GenerationOptions& gopt,
                              const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) throw std::invalid_argument("generate: empty prompt");
  const int ctx = model.config().context, V = model.vocab_size();
  std::mt19937_64 rng(sopt.seed);
  std::vector<float> scratch;
  std::vector<int32_t> hist = prompt, out;
  const float* logits = nullptr;
  int pos = 0;  // positions filled in the incremental cache
  auto refill = [&](size_t keep) {
    if (gopt.prefill) {
      logits = model.prefill(hist.data() + hist.size() - keep, (int)keep, ctx);
      pos = (int)keep;
      return;
    }
    model.begin_incremental(ctx);
    pos = 0;
    for (size_t i = hist.size() - keep; i < hist.size(); i++) logits = model.step(hist[i], pos++);
  };
  if (gopt.incremental) refill(std::min<size_t>(hist.size(), ctx));
  for (int i = 0; i < n_new; i++) {
    if (!gopt.incremental) {
      const int len = std::min<int>((int)hist.size(), ctx);
      model.forward(hist.data() + hist.size() - len, nullptr, 1, len);
      logits = model.logits() + (size_t)(len - 1) * V;
    }
    const int32_t next = pick_token(logits, V, sopt, rng, scratch);
    hist.push_back(next);
    out.push_back(next);
    if (on_token) on_token(next);
    if (gopt.incremental && i + 1 < n_new) {
      if (pos == ctx)
        refill(std::max(1, ctx / 2));  // window full: rebuild from the last context/2 characters
      else
        logits = model.step(next, pos++);
    }
  }
  return out;
}

}  // namespace spectral
