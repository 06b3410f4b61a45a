// bench_sample: runs sample/sampler's generate() from a one-character prompt in both modes and
// timestamps every generated character. The gap between characters i−1 and i is the cost of
// position i (Model::step of the newest character, or a forward over the whole window ending at
// it) plus drawing the next character.
#include "bench/bench_sample.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/bench_util.h"
#include "io/checkpoint.h"
#include "model/mixer_registry.h"
#include "model/model.h"
#include "sample/sampler.h"
#include "util/errors.h"
#include "util/threads.h"

namespace spectral::bench {

namespace {

struct ModeResult {
  double chars_per_s = NAN;
  double total_s = NAN;
  std::vector<double> at;  // ms per character around each position
  double worst_ms = NAN;    // the slowest character (a position where more work falls, e.g. fft's largest block)
  int worst_at = 0;         // its position
};

// Generates n characters after a one-character prompt; gap[i] = seconds between characters i−1
// and i, i.e. the cost of position i.
ModeResult run_mode(Model<float>& model, int n, bool incremental, const std::vector<int>& positions, int around) {
  SamplingOptions so;
  so.seed = 11;
  GenerationOptions go;
  go.incremental = incremental;
  std::vector<double> stamp;
  stamp.reserve(n);
  const std::vector<int32_t> prompt = {0};
  const double t0 = now_seconds();
  generate(model, prompt, n, so, go, [&](int32_t) { stamp.push_back(now_seconds()); });
  const double t1 = now_seconds();
  ModeResult r;
  r.total_s = t1 - t0;
  r.chars_per_s = n / r.total_s;
  for (int i = 1; i < n; i++) {
    const double gap = 1e3 * (stamp[i] - stamp[i - 1]);
    if (!(gap <= r.worst_ms)) {
      r.worst_ms = gap;
      r.worst_at = i;
    }
  }
  for (int p : positions) {
    std::vector<double> gaps;
    for (int i = std::max(1, p - around); i <= std::min(n - 1, p + around); i++)
      gaps.push_back(1e3 * (stamp[i] - stamp[i - 1]));
    r.at.push_back(median(gaps));
  }
  return r;
}

// S streams of n characters each after a one-character prompt, stepped together: aggregate
// characters per second (S·n over the wall time).
double run_streams(Model<float>& model, int n, int S) {
  SamplingOptions so;
  so.seed = 11;
  GenerationOptions go;
  const std::vector<int32_t> prompt = {0};
  const double t0 = now_seconds();
  generate_streams(model, prompt, n, S, so, go);
  return double(S) * n / (now_seconds() - t0);
}

struct PromptResult {
  double first_ms = NAN;     // generate() called → first character drawn (prefill)
  double after_ms = NAN;     // median gap between the next characters
  double stepwise_ms = NAN;  // the same first character with the prompt fed step by step
};

// A prompt of n characters (ids cycling through the vocabulary), then 33 characters.
PromptResult run_prompt(Model<float>& model, int n, bool stepwise) {
  const int V = model.vocab_size();
  std::vector<int32_t> prompt(n);
  for (int i = 0; i < n; i++) prompt[i] = int32_t((7L * i + i / V) % V);
  SamplingOptions so;
  so.seed = 11;
  GenerationOptions go;
  std::vector<double> stamp;
  double t0 = now_seconds();
  generate(model, prompt, 33, so, go, [&](int32_t) { stamp.push_back(now_seconds()); });
  PromptResult r;
  r.first_ms = 1e3 * (stamp[0] - t0);
  std::vector<double> gaps;
  for (size_t i = 1; i < stamp.size(); i++) gaps.push_back(1e3 * (stamp[i] - stamp[i - 1]));
  r.after_ms = median(gaps);
  if (stepwise) {
    go.prefill = false;
    t0 = now_seconds();
    generate(model, prompt, 1, so, go);
    r.stepwise_ms = 1e3 * (now_seconds() - t0);
  }
  return r;
}

struct Subject {
  std::string name;
  std::string target;  // what its incremental growth figure is held to (the mixer registry's), or none
  std::unique_ptr<Model<float>> owned;
  Model<float>* model = nullptr;
};

}  // namespace

int run_sample_bench(const SampleBenchOptions& o) {
  if (o.tokens < 2) throw InputError("bench sample: --tokens must be >= 2");
  for (int p : o.positions)
    if (p < 1 || p >= o.tokens)
      throw InputError("bench sample: position " + std::to_string(p) + " outside 1.." + std::to_string(o.tokens - 1) +
                       " (positions are counted in generated characters)");
  const int threads = num_threads();
  std::printf("%s\n", machine_line(threads).c_str());

  std::vector<Subject> subjects;
  LoadedCheckpoint ck;
  if (!o.checkpoint.empty()) {
    ck = load_checkpoint(o.checkpoint, CheckpointContent::WeightsOnly);
    Subject s;
    std::vector<std::string> seen;  // the checkpoint's mixers, labelled as for a config
    for (const auto& m : ck.model->config().mixer) {
      const std::string l = mixer_label(m, ck.model->config());
      if (std::find(seen.begin(), seen.end(), l) == seen.end()) seen.push_back(l);
    }
    for (const auto& l : seen) s.name += (s.name.empty() ? "" : "+") + l;
    s.model = ck.model.get();
    subjects.push_back(std::move(s));
  } else {
    std::vector<std::string> names = o.mixers;
    if (names.empty()) names.push_back("");
    for (const auto& name : names) {
      Config c = o.cfg;
      if (!name.empty()) {
        set_mixer_label(c.model, name);
        validate_config(c);
      }
      Subject s;
      s.owned = std::make_unique<Model<float>>(c.model, o.vocab);
      s.owned->init(1);
      s.model = s.owned.get();
      std::string label;
      std::vector<std::string> seen;
      for (const auto& m : s.model->config().mixer) {
        const std::string l = mixer_label(m, c.model);
        if (std::find(seen.begin(), seen.end(), l) == seen.end()) seen.push_back(l);
      }
      for (const auto& l : seen) label += (label.empty() ? "" : "+") + l;
      s.name = label;
      if (const MixerSpec* first = find_mixer_label(seen.front(), nullptr)) s.target = first->bench.sample_target;
      subjects.push_back(std::move(s));
    }
  }
  {
    const ModelConfig& mc = subjects.front().model->config();
    std::printf("bench sample: %s; d=%d, layers=%d, context=%d, vocabulary %d; %d characters after a 1-character "
                "prompt; time per character = median over positions p-%d..p+%d\n",
                o.checkpoint.empty() ? "random init from the config" : ("checkpoint " + o.checkpoint).c_str(),
                mc.d_model, mc.n_layers, mc.context, subjects.front().model->vocab_size(), o.tokens, o.around, o.around);
    if (o.tokens >= mc.context)
      std::printf("note: %d characters exceed the context %d; the incremental mode rebuilds its state from the last "
                  "context/2 characters when the window is full\n",
                  o.tokens, mc.context);
  }
  std::fflush(stdout);

  std::vector<std::string> head = {"mixer", "mode", "chars/s"};
  for (int p : o.positions) head.push_back(fmt("ms/char @%d", p));
  const int plast = o.positions.empty() ? 0 : o.positions.back();
  const int pfirst = o.positions.empty() ? 0 : o.positions.front();
  if (o.positions.size() >= 2) head.push_back(fmt("@%d / @%d", plast, pfirst));
  head.push_back("slowest char ms (at)");
  if (!o.positions.empty() && o.full) head.push_back(fmt("full/incr @%d", plast));
  Table table(head);
  std::vector<std::string> csv_head = {"mixer", "mode", "tokens", "context", "threads", "chars_per_s", "total_s"};
  for (int p : o.positions) csv_head.push_back("ms_at_" + std::to_string(p));
  if (o.positions.size() >= 2) csv_head.push_back("ratio_last_first");
  csv_head.push_back("slowest_ms");
  csv_head.push_back("slowest_at");
  Csv csv(o.csv, csv_head);

  struct Summary {
    std::string name, target;
    double growth = NAN, speedup = NAN, single = NAN;
  };
  std::vector<Summary> summary;
  for (auto& s : subjects) {
    Model<float>& m = *s.model;
    const int ctx = m.config().context;
    // warm-up: a few incremental characters and one full forward (plans, arenas, caches)
    run_mode(m, std::min(o.tokens, 32), true, {}, 0);
    if (o.full) run_mode(m, 4, false, {}, 0);
    std::fprintf(stderr, "  %s: incremental...\n", s.name.c_str());
    const ModeResult inc = run_mode(m, o.tokens, true, o.positions, o.around);
    ModeResult full;
    if (o.full) {
      std::fprintf(stderr, "  %s: full window per character...\n", s.name.c_str());
      full = run_mode(m, o.tokens, false, o.positions, o.around);
    }
    Summary sm;
    sm.name = s.name;
    sm.target = s.target;
    for (int mode = 0; mode < (o.full ? 2 : 1); mode++) {
      const ModeResult& r = mode == 0 ? inc : full;
      std::vector<std::string> row = {s.name, mode == 0 ? "incremental" : "full window", num(r.chars_per_s)};
      for (double v : r.at) row.push_back(num(v));
      if (o.positions.size() >= 2) row.push_back(fmt("%.2f", r.at.back() / r.at.front()));
      row.push_back(num(r.worst_ms) + " (" + std::to_string(r.worst_at) + ")");
      if (!o.positions.empty() && o.full) row.push_back(mode == 0 ? "" : fmt("%.1fx", full.at.back() / inc.at.back()));
      table.add(row);
      std::vector<std::string> c = {s.name, mode == 0 ? "incremental" : "full", std::to_string(o.tokens),
                                    std::to_string(ctx), std::to_string(threads), fmt("%.6g", r.chars_per_s),
                                    fmt("%.6g", r.total_s)};
      for (double v : r.at) c.push_back(fmt("%.6g", v));
      if (o.positions.size() >= 2) c.push_back(fmt("%.6g", r.at.back() / r.at.front()));
      c.push_back(fmt("%.6g", r.worst_ms));
      c.push_back(std::to_string(r.worst_at));
      csv.row(c);
    }
    sm.single = inc.chars_per_s;
    if (o.positions.size() >= 2) sm.growth = inc.at.back() / inc.at.front();
    if (!o.positions.empty() && o.full) sm.speedup = full.at.back() / inc.at.back();
    summary.push_back(sm);
  }
  if (o.prompt > 0) {
    Table pt({"mixer", "prompt chars", "context", "ms to 1st char (prefill)", "ms/char after it",
              "ms to 1st char (step by step)"});
    for (auto& s : subjects) {
      std::fprintf(stderr, "  %s: prompt of %d characters...\n", s.name.c_str(), o.prompt);
      const PromptResult r = run_prompt(*s.model, o.prompt, o.prompt_stepwise);
      pt.add({s.name, std::to_string(o.prompt), std::to_string(s.model->config().context), num(r.first_ms),
              num(r.after_ms), o.prompt_stepwise ? num(r.stepwise_ms) : "-"});
    }
    std::printf("\n");
    pt.print(stdout);
  }
  if (o.streams > 1) {
    Table st({"mixer", "streams", "chars/stream", "aggregate chars/s", "chars/s per stream", "vs 1 stream"});
    for (size_t i = 0; i < subjects.size(); i++) {
      Subject& s = subjects[i];
      std::fprintf(stderr, "  %s: %d streams...\n", s.name.c_str(), o.streams);
      run_streams(*s.model, std::min(o.tokens, 16), o.streams);  // warm-up (the streams' buffers)
      const double agg = run_streams(*s.model, o.tokens, o.streams);
      st.add({s.name, std::to_string(o.streams), std::to_string(o.tokens), num(agg), num(agg / o.streams),
              fmt("%.1fx", agg / summary[i].single)});
    }
    std::printf("\n");
    st.print(stdout);
  }
  std::printf("\n");
  table.print(stdout);
  std::printf("\n");
  for (const auto& sm : summary) {
    std::string line = sm.name + ":";
    if (std::isfinite(sm.growth))
      line += fmt(" incremental time per character @%d / @%d = %.2f%s", plast, pfirst, sm.growth,
                  sm.target.empty() ? "" : (" (" + sm.target + ")").c_str());
    if (std::isfinite(sm.speedup))
      line += fmt("; incremental is %.1fx faster than recomputing the window @%d", sm.speedup,
                  plast);
    std::printf("%s\n", line.c_str());
  }
  std::printf("load average at the end: %s\n", load_average().c_str());
  return 0;
}

}  // namespace spectral::bench
