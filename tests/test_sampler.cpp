// pick_token (sample/sampler): greedy, temperature, top-k and top-p, each against a hand
// computation on small logits. Deterministic rules (greedy, top-k = 1, a nucleus of one token, ties)
// are checked draw by draw; distributions by the frequencies of many draws with a fixed seed, which
// must match the renormalised softmax of the tokens that should remain within 5 standard errors
// (tokens that should be cut must never be drawn).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sample/sampler.h"

using namespace spectral;

namespace {

SamplingOptions options(double temperature, int top_k = 0, double top_p = 1.0) {
  SamplingOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  return o;
}

// softmax(logits / temperature) restricted to the ids in keep, renormalised over them; 0 elsewhere.
std::vector<double> expected_probs(const std::vector<float>& logits, double temperature, const std::vector<int>& keep) {
  std::vector<double> p(logits.size(), 0.0);
  double total = 0;
  for (int id : keep) total += p[id] = std::exp(double(logits[id]) / temperature);
  for (double& x : p) x /= total;
  return p;
}

// Draws n tokens with a fixed seed; returns how often each id came up.
std::vector<long> draw_counts(const std::vector<float>& logits, const SamplingOptions& opt, long n,
                              uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  std::vector<float> scratch;
  std::vector<long> counts(logits.size(), 0);
  for (long i = 0; i < n; i++) {
    const int32_t id = pick_token(logits.data(), int(logits.size()), opt, rng, scratch);
    EXPECT_GE(id, 0);
    EXPECT_LT(id, int32_t(logits.size()));
    if (id < 0 || id >= int32_t(logits.size())) return counts;
    counts[id]++;
  }
  return counts;
}

// Frequencies within 5 standard errors of p (binomial: sqrt(p(1−p)/n)); ids with p = 0 never drawn.
void expect_frequencies(const std::vector<long>& counts, const std::vector<double>& p, const std::string& what) {
  long n = 0;
  for (long c : counts) n += c;
  ASSERT_GT(n, 0);
  for (size_t id = 0; id < p.size(); id++) {
    if (p[id] == 0) {
      EXPECT_EQ(counts[id], 0) << what << ": id " << id << " should have been cut";
      continue;
    }
    const double f = double(counts[id]) / n, se = std::sqrt(p[id] * (1 - p[id]) / n);
    EXPECT_LT(std::fabs(f - p[id]), 5 * se) << what << ": id " << id << " drawn " << f << ", expected " << p[id];
  }
}

constexpr long kDraws = 200000;

// Probabilities 0.1, 0.4, 0.2, 0.3 (ids 0..3): sorted, id 1 (0.4), id 3 (0.3), id 2 (0.2), id 0 (0.1),
// cumulative 0.4, 0.7, 0.9, 1.0.
const std::vector<float> kQuarters = {std::log(0.1f), std::log(0.4f), std::log(0.2f), std::log(0.3f)};

}  // namespace

// ============================================================================ greedy

TEST(PickToken, GreedyIsArgmaxAndDrawsNothing) {
  const std::vector<float> logits = {0.5f, -1.0f, 3.25f, 3.0f, -7.0f};
  std::mt19937_64 rng(1), untouched(1);
  std::vector<float> scratch;
  for (double t : {0.0, -1.0}) EXPECT_EQ(pick_token(logits.data(), 5, options(t), rng, scratch), 2) << "T=" << t;
  EXPECT_EQ(rng(), untouched()) << "greedy consumed random numbers";
  // ties go to the lowest id
  const std::vector<float> tied = {1.0f, 4.0f, -2.0f, 4.0f, 4.0f};
  EXPECT_EQ(pick_token(tied.data(), 5, options(0.0), rng, scratch), 1);
  // one token
  const float one = -3.0f;
  EXPECT_EQ(pick_token(&one, 1, options(0.0), rng, scratch), 0);
  EXPECT_EQ(pick_token(&one, 1, options(1.0), rng, scratch), 0);
}

// ============================================================================ temperature

// Temperature T draws from softmax(logits / T): checked at T = 1, a sharper 0.5 and a flatter 2.
TEST(PickToken, TemperatureScalesLogits) {
  const std::vector<float> logits = {2.0f, 1.0f, 0.5f, -1.0f, 0.0f};
  for (double t : {1.0, 0.5, 2.0}) {
    const auto counts = draw_counts(logits, options(t), kDraws);
    expect_frequencies(counts, expected_probs(logits, t, {0, 1, 2, 3, 4}), "T=" + std::to_string(t));
  }
  // T = 0.5 and T = 2 differ measurably: the top token's share is ≈ 0.83 vs ≈ 0.37
  const auto sharp = draw_counts(logits, options(0.5), 20000), flat = draw_counts(logits, options(2.0), 20000);
  EXPECT_GT(sharp[0], 15000);
  EXPECT_LT(flat[0], 8000);
}

// A very low temperature (well above 0) concentrates everything on the argmax; a logit of −inf is
// never drawn at any temperature.
TEST(PickToken, TemperatureEdgeCases) {
  const std::vector<float> logits = {1.0f, 1.5f, -std::numeric_limits<float>::infinity(), 0.9f};
  const auto cold = draw_counts(logits, options(1e-3), 2000);
  EXPECT_EQ(cold[1], 2000);
  const auto warm = draw_counts(logits, options(1.0), kDraws);
  expect_frequencies(warm, expected_probs(logits, 1.0, {0, 1, 3}), "-inf logit");
}

// ============================================================================ top-k

TEST(PickToken, TopKOneIsArgmax) {
  const std::vector<float> logits = {0.1f, 2.0f, 1.9f, -0.5f, 1.99f};
  const auto counts = draw_counts(logits, options(1.0, 1), 5000);
  EXPECT_EQ(counts[1], 5000);
  // a tie at the top goes to the lowest id
  const std::vector<float> tied = {0.3f, 1.0f, 1.0f, 1.0f};
  EXPECT_EQ(draw_counts(tied, options(1.0, 1), 5000)[1], 5000);
}

// top-k keeps the k largest logits and renormalises over them; k >= V keeps everything.
TEST(PickToken, TopKKeepsTheKMostLikely) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.0f, 2.5f};  // order: 1, 4, 2, 0, 3
  expect_frequencies(draw_counts(logits, options(1.0, 2), kDraws), expected_probs(logits, 1.0, {1, 4}), "k=2");
  expect_frequencies(draw_counts(logits, options(1.0, 3), kDraws), expected_probs(logits, 1.0, {1, 4, 2}), "k=3");
  // with a temperature: the same tokens, their logits divided by T
  expect_frequencies(draw_counts(logits, options(0.7, 3), kDraws), expected_probs(logits, 0.7, {1, 4, 2}),
                     "k=3, T=0.7");
  expect_frequencies(draw_counts(logits, options(1.0, 9), kDraws), expected_probs(logits, 1.0, {0, 1, 2, 3, 4}),
                     "k=9 > V");
}

// ============================================================================ top-p

// top-p keeps the smallest prefix of the sorted probabilities whose mass reaches p (cumulative 0.4,
// 0.7, 0.9, 1.0 here), then renormalises over it.
TEST(PickToken, TopPKeepsTheSmallestPrefixReachingP) {
  // p below the top probability: the nucleus is the argmax alone
  EXPECT_EQ(draw_counts(kQuarters, options(1.0, 0, 0.35), 5000)[1], 5000);
  EXPECT_EQ(draw_counts(kQuarters, options(1.0, 0, 1e-9), 5000)[1], 5000);
  expect_frequencies(draw_counts(kQuarters, options(1.0, 0, 0.45), kDraws), expected_probs(kQuarters, 1.0, {1, 3}),
                     "p=0.45");
  expect_frequencies(draw_counts(kQuarters, options(1.0, 0, 0.85), kDraws),
                     expected_probs(kQuarters, 1.0, {1, 3, 2}), "p=0.85");
  expect_frequencies(draw_counts(kQuarters, options(1.0, 0, 0.95), kDraws),
                     expected_probs(kQuarters, 1.0, {0, 1, 2, 3}), "p=0.95");
  // p = 1 is off
  expect_frequencies(draw_counts(kQuarters, options(1.0, 0, 1.0), kDraws),
                     expected_probs(kQuarters, 1.0, {0, 1, 2, 3}), "p=1");
}

// The nucleus is taken over the tempered probabilities: at T = 0.5 they are ∝ 0.01, 0.16, 0.04, 0.09
// (sum 0.30), cumulative 0.533, 0.833, 0.967, 1, so p = 0.8 keeps ids 1 and 3 (at T = 1 it keeps three).
TEST(PickToken, TopPAppliesAfterTemperature) {
  expect_frequencies(draw_counts(kQuarters, options(0.5, 0, 0.8), kDraws), expected_probs(kQuarters, 0.5, {1, 3}),
                     "p=0.8, T=0.5");
  expect_frequencies(draw_counts(kQuarters, options(1.0, 0, 0.8), kDraws),
                     expected_probs(kQuarters, 1.0, {1, 3, 2}), "p=0.8, T=1");
}

// With top-k, top-p measures mass among the k kept tokens: k = 3 leaves 0.4, 0.3, 0.2, renormalised
// 0.444, 0.333, 0.222 (cumulative 0.444, 0.778), so p = 0.75 keeps two tokens where alone it keeps
// three (cumulative 0.4, 0.7, 0.9).
TEST(PickToken, TopPAppliesWithinTopK) {
  expect_frequencies(draw_counts(kQuarters, options(1.0, 3, 0.75), kDraws), expected_probs(kQuarters, 1.0, {1, 3}),
                     "k=3, p=0.75");
  expect_frequencies(draw_counts(kQuarters, options(1.0, 0, 0.75), kDraws),
                     expected_probs(kQuarters, 1.0, {1, 3, 2}), "p=0.75");
}

// Equal probabilities are ordered by id (lowest first) when top-k or top-p cuts between them.
TEST(PickToken, TiesAreCutByLowestIdFirst) {
  const std::vector<float> logits = {0.0f, 1.0f, 1.0f, 1.0f, -1.0f};
  expect_frequencies(draw_counts(logits, options(1.0, 2), kDraws), expected_probs(logits, 1.0, {1, 2}), "k=2, ties");
  // three equal tokens hold ≈ 0.29 each: p = 0.5 needs two of them
  expect_frequencies(draw_counts(logits, options(1.0, 0, 0.5), kDraws), expected_probs(logits, 1.0, {1, 2}),
                     "p=0.5, ties");
}

// The same seed gives the same draws; a different seed gives different ones.
TEST(PickToken, FixedSeedIsReproducible) {
  const std::vector<float> logits = {0.2f, 0.1f, 0.0f, -0.1f, 0.3f, 0.05f};
  auto run = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> scratch;
    std::vector<int32_t> ids;
    for (int i = 0; i < 200; i++) ids.push_back(pick_token(logits.data(), 6, options(0.9, 5, 0.95), rng, scratch));
    return ids;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

// The draw walks the tokens most probable first, ties by id: against that rule written out with a
// stable sort (the order a given seed's draws depend on), draw for draw, on logits with many ties,
// for several temperatures, top-k and top-p, and a vocabulary of the usual size.
TEST(PickToken, DrawsEqualTheStableSortReference) {
  auto reference = [](const float* logits, int V, const SamplingOptions& opt, std::mt19937_64& rng) {
    std::vector<float> p(V);
    const float mx = *std::max_element(logits, logits + V);
    for (int v = 0; v < V; v++) p[v] = std::exp((logits[v] - mx) / float(opt.temperature));
    std::vector<int32_t> order(V);
    for (int v = 0; v < V; v++) order[v] = v;
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
    int keep = opt.top_k > 0 ? std::min(V, opt.top_k) : V;
    double total = 0;
    for (int i = 0; i < keep; i++) total += p[order[i]];
    if (opt.top_p < 1.0) {
      double acc = 0;
      for (int i = 0; i < keep; i++)
        if ((acc += p[order[i]] / total) >= opt.top_p) {
          keep = i + 1;
          break;
        }
      total = 0;
      for (int i = 0; i < keep; i++) total += p[order[i]];
    }
    std::uniform_real_distribution<double> u(0.0, total);
    double r = u(rng), acc = 0;
    for (int i = 0; i < keep; i++)
      if (r < (acc += p[order[i]])) return order[i];
    return order[keep - 1];
  };
  std::mt19937 gen(5);
  std::uniform_int_distribution<int> level(-4, 4);  // few distinct values: many ties
  for (int V : {2, 7, 65, 200}) {
    for (const SamplingOptions& opt : {options(1.0), options(0.7, 5), options(1.3, 0, 0.9), options(1.0, 10, 0.5)}) {
      std::mt19937_64 rng(11), rng_ref(11);
      std::vector<float> scratch, logits(V);
      for (int draw = 0; draw < 300; draw++) {
        for (float& x : logits) x = 0.5f * float(level(gen));
        const int32_t ref = reference(logits.data(), V, opt, rng_ref);
        ASSERT_EQ(pick_token(logits.data(), V, opt, rng, scratch), ref)
            << "V " << V << ", T " << opt.temperature << ", k " << opt.top_k << ", p " << opt.top_p << ", draw " << draw;
      }
    }
  }
}
