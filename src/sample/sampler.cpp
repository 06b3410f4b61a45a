// sampler: token choice and the generation loop.
#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>

namespace spectral {

int32_t pick_token(const float* logits, int V, const SamplingOptions& opt, std::mt19937_64& rng,
                   std::vector<float>& p) {
  if (opt.temperature <= 0) return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  p.resize(V);
  const float mx = *std::max_element(logits, logits + V);
  for (int v = 0; v < V; v++) p[v] = std::exp((logits[v] - mx) / float(opt.temperature));
  // Most probable first, ties by id (the order of a stable sort): the draw below walks this order.
  // One buffer per thread, so that a character costs no allocation.
  thread_local std::vector<int32_t> order;
  order.resize(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
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

std::vector<std::vector<int32_t>> generate_streams(Model<float>& model, const std::vector<int32_t>& prompt, int n_new,
                                                   int S, const SamplingOptions& sopt, const GenerationOptions& gopt,
                                                   const std::function<void(int, int32_t)>& on_token) {
  if (S < 1) throw std::invalid_argument("generate_streams: need at least one stream");
  if (prompt.empty()) throw std::invalid_argument("generate: empty prompt");
  std::vector<std::vector<int32_t>> outs(S);
  if (S == 1 || !gopt.incremental) {  // one stream at a time: generate() itself
    for (int i = 0; i < S; i++) {
      SamplingOptions so = sopt;
      so.seed = sopt.seed + uint64_t(i);
      outs[i] = generate(model, prompt, n_new, so, gopt, [&](int32_t id) {
        if (on_token) on_token(i, id);
      });
    }
    return outs;
  }
  const int ctx = model.config().context, V = model.vocab_size();
  std::vector<std::mt19937_64> rngs;
  for (int i = 0; i < S; i++) rngs.emplace_back(sopt.seed + uint64_t(i));
  std::vector<float> scratch, logits((size_t)S * V);
  std::vector<std::vector<int32_t>> hist(S, prompt);
  std::vector<int32_t> next(S);
  // the one-sequence state over the last keep characters of h (as generate's refill); its logits
  auto fill = [&](const std::vector<int32_t>& h, size_t keep) -> const float* {
    if (gopt.prefill) return model.prefill(h.data() + h.size() - keep, (int)keep, ctx);
    model.begin_incremental(ctx);
    const float* l = nullptr;
    int p = 0;
    for (size_t j = h.size() - keep; j < h.size(); j++) l = model.step(h[j], p++);
    return l;
  };
  int pos = (int)std::min<size_t>(prompt.size(), ctx);
  const float* first = fill(prompt, (size_t)pos);
  model.begin_streams(S);
  for (int i = 0; i < S; i++) {
    model.store_stream(i);
    std::memcpy(logits.data() + (size_t)i * V, first, (size_t)V * sizeof(float));
  }
  for (int n = 0; n < n_new; n++) {
    for (int i = 0; i < S; i++) {
      next[i] = pick_token(logits.data() + (size_t)i * V, V, sopt, rngs[i], scratch);
      hist[i].push_back(next[i]);
      outs[i].push_back(next[i]);
      if (on_token) on_token(i, next[i]);
    }
    if (n + 1 == n_new) break;
    if (pos == ctx) {  // every window is full: rebuild each stream from its last context/2 characters
      const size_t keep = (size_t)std::max(1, ctx / 2);
      for (int i = 0; i < S; i++) {
        const float* l = fill(hist[i], keep);
        model.store_stream(i);
        std::memcpy(logits.data() + (size_t)i * V, l, (size_t)V * sizeof(float));
      }
      pos = (int)keep;
    } else {
      const float* l = model.step_streams(next.data(), pos++);
      std::memcpy(logits.data(), l, (size_t)S * V * sizeof(float));
    }
  }
  return outs;
}

}  // namespace spectral
