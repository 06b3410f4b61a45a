// bench_mixers: the driver of the mixer scaling table. For every T and mixer label: the memory
// figures, the caps, one untimed run, then medians of forward and forward+backward (and of the
// floor, for a mixer that has one); then the table, the CSV rows and the summary. What is timed is
// bench_mixer_cases'; every mixer-specific figure (labels, caps, floors, the reference mixer, the
// targets) is read from model/mixer_registry. Memory is what the Mixer layer's bind() takes from
// the saved arena (the activations it keeps for backward).
#include "bench/bench_mixers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <new>

#include "bench/bench_mixer_cases.h"
#include "model/mixer_registry.h"
#include "util/errors.h"
#include "util/threads.h"

namespace spectral::bench {

const std::vector<std::string>& bench_mixer_names() {
  static const std::vector<std::string> names = all_mixer_labels();
  return names;
}

std::vector<std::string> parse_mixer_list(const std::string& list) {
  std::vector<std::string> out;
  auto add = [&](const std::string& n) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  };
  size_t at = 0;
  while (at <= list.size()) {
    size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    std::string name = list.substr(at, comma - at);
    at = comma + 1;
    if (name.empty()) continue;
    if (const MixerSpec* s = find_mixer(name)) {
      for (const auto& label : mixer_labels(*s)) add(label);
    } else if (find_mixer_label(name, nullptr)) {
      add(name);
    } else {
      std::string expected;
      for (const auto& s : mixers()) {
        expected += (expected.empty() ? "" : ", ") + s.name;
        if (!s.variants.empty())
          for (const auto& label : mixer_labels(s)) expected += ", " + label;
      }
      throw InputError("bench: unknown mixer \"" + name + "\" (expected " + expected + ")");
    }
  }
  if (out.empty()) throw InputError("bench: empty mixer list");
  return out;
}

std::string mixer_list_help() {
  std::string out;
  for (const auto& s : mixers()) {
    out += (out.empty() ? "" : ", ") + s.name;
    if (s.variants.empty()) continue;
    std::string labels;
    for (const auto& label : mixer_labels(s)) labels += (labels.empty() ? "" : ",") + label;
    out += " (= " + labels + ")";
  }
  return out;
}

MixerBenchOptions::MixerBenchOptions() {
  for (const auto& s : spectral::mixers()) {  // (the member `mixers` hides the registry's list here)
    for (const auto& k : s.bench.knobs) knobs[k.flag] = k.value;
    if (s.bench.quadratic_cap_t > 0) cap_t[s.name] = s.bench.quadratic_cap_t;
  }
}

namespace {

std::string mib(double bytes) { return bytes < 0 ? "n/a" : num(bytes / (1024.0 * 1024.0)); }

struct Row {
  int T = 0;
  std::string mixer, status = "ok";
  double fwd = NAN, fwdbwd = NAN, floor = NAN, saved = -1, scratch = -1, core_saved = -1;
  int fwd_n = 0, fwdbwd_n = 0;
};

// The column names of the floor: from the one mixer that has a floor ("<floor label> ms",
// "<name>/floor", "<name>_floor_ms"), plain ones when several have.
struct FloorNames {
  std::string ms = "floor ms", ratio = "fwd/floor", csv = "floor_ms";
};
FloorNames floor_names() {
  std::vector<const MixerSpec*> with;
  for (const auto& s : mixers())
    if (s.bench.floor) with.push_back(&s);
  FloorNames n;
  if (with.size() == 1) n = {with[0]->bench.floor_label + " ms", with[0]->name + "/floor", with[0]->name + "_floor_ms"};
  return n;
}

// The largest T a label runs at (0: no cap).
int cap_of(const std::string& label, const MixerBenchOptions& o) {
  const MixerSpec* s = find_mixer_label(label, nullptr);
  if (s->bench.quadratic_cap_t <= 0) return 0;
  auto it = o.cap_t.find(s->name);
  return it != o.cap_t.end() ? it->second : s->bench.quadratic_cap_t;
}

}  // namespace

int run_mixer_bench(const MixerBenchOptions& o) {
  if (o.t_min < 2 || o.t_max < o.t_min) throw InputError("bench mixers: need 2 <= --t-min <= --t-max");
  if (o.d < 1 || o.batch < 1 || o.heads < 1 || o.d % o.heads != 0)
    throw InputError("bench mixers: --d, --batch, --heads must be positive and --d divisible by --heads");
  for (const auto& [flag, value] : o.knobs)
    if (value < 1) throw InputError("bench mixers: --" + flag + " must be >= 1");
  for (const auto& label : o.mixers) {
    // the rules training applies to the same mixer (a rank that resolves to 0, say)
    try {
      check_mixers(mixer_bench_config(label, o.t_min, o));
    } catch (const ConfigError& e) {
      throw InputError("bench mixers: " + label + ": " + e.what());
    }
  }
  const int threads = num_threads();
  std::string knobs, caps;
  for (const auto& s : mixers()) {
    for (const auto& k : s.bench.knobs) knobs += fmt(", %s=%d", k.label.c_str(), o.knobs.at(k.flag));
    if (s.bench.quadratic_cap_t > 0) caps += fmt("%s capped at T <= %d, ", s.name.c_str(), o.cap_t.at(s.name));
  }
  std::printf("%s\n", machine_line(threads).c_str());
  std::printf("bench mixers: %s, d=%d, batch=%d, heads=%d%s, T=%d..%d\n",
              o.layer ? "whole Mixer layer (projections included)" : "core mixing op (as the seeds measure)", o.d,
              o.batch, o.heads, knobs.c_str(), o.t_min, o.t_max);
  std::printf("each figure: median of >= %d timed runs after %d warm-up (>= %d runs once it has used %.1f s); %sany "
              "mixer at a predicted %.0f s per forward+backward\n",
              o.timing.repeats, o.timing.warmup, o.timing.min_samples, o.timing.budget_s, caps.c_str(), o.time_cap_s);
  std::printf("saved MiB = activations the Mixer layer keeps for backward (its bind() on the saved arena)\n\n");
  std::fflush(stdout);

  const FloorNames fn = floor_names();
  Csv csv(o.csv, {"mode", "T", "d", "batch", "heads", "mixer", "fwd_ms", "fwdbwd_ms", "saved_bytes", "scratch_bytes",
                  "core_saved_bytes", fn.csv, "fwd_over_floor", "fwd_samples", "fwdbwd_samples", "threads", "status"});
  Table table({"T", "mixer", "fwd ms", "fwd+bwd ms", "saved MiB", fn.ms, fn.ratio, "note"});
  std::vector<Row> rows;
  std::map<std::string, std::pair<int, double>> last;  // mixer → (T, fwd+bwd ms) of its last measurement
  std::map<std::string, std::string> stopped;          // mixer → why it stopped
  std::mt19937_64 rng(1234);

  std::vector<int> Ts;
  for (long T = o.t_min; T <= o.t_max; T *= 2) Ts.push_back(int(T));

  for (int T : Ts) {
    for (const auto& name : o.mixers) {
      Row r;
      r.T = T;
      r.mixer = name;
      const auto bytes = layer_arena_bytes(name, o.batch, T, o);
      r.saved = bytes.first;
      r.scratch = bytes.second;
      r.core_saved = core_saved_bytes(name, o.batch, T, o);
      const int cap = cap_of(name, o);
      const bool quadratic = cap > 0;
      if (quadratic && T > cap) {
        r.status = fmt("skipped: T > cap %d", cap);
      } else if (stopped.count(name)) {
        r.status = stopped[name];
      } else if (last.count(name)) {
        const double grow = double(T) / last[name].first;
        const double predicted_s = 1e-3 * last[name].second * (quadratic ? grow * grow : grow * 1.2);
        if (predicted_s > o.time_cap_s) {
          r.status = fmt("skipped: predicted %.0f s > time cap %.0f s", predicted_s, o.time_cap_s);
          stopped[name] = fmt("skipped: time cap %.0f s reached at smaller T", o.time_cap_s);
        }
      }
      if (r.status == "ok") {
        try {
          std::unique_ptr<BenchCase> c = make_mixer_case(name, T, o, rng);
          // one untimed forward+backward first (plans, first touch of every buffer); if it alone takes
          // longer than the budget, forward and forward+backward come from the same runs (forward
          // timed inside each forward+backward) instead of separate series, halving the cost
          const double t0 = now_seconds();
          c->forward();
          c->backward();
          const double first_s = now_seconds() - t0;
          TimingOptions topt = o.timing;
          topt.warmup = std::max(0, o.timing.warmup - 1);
          if (first_s > o.timing.budget_s) {
            std::vector<double> fwd_ms;
            int calls = 0;
            const Timing fb = time_median(
                [&] {
                  const double a = now_seconds();
                  c->forward();
                  const double b = now_seconds();
                  c->backward();
                  if (calls++ >= topt.warmup) fwd_ms.push_back(1e3 * (b - a));
                },
                topt);
            r.fwd_n = (int)fwd_ms.size();
            r.fwd = median(std::move(fwd_ms));
            r.fwdbwd = fb.median_ms;
            r.fwdbwd_n = fb.samples;
          } else {
            const Timing f = time_median([&] { c->forward(); }, topt);
            const Timing fb = time_median(
                [&] {
                  c->forward();
                  c->backward();
                },
                topt);
            r.fwd = f.median_ms;
            r.fwdbwd = fb.median_ms;
            r.fwd_n = f.samples;
            r.fwdbwd_n = fb.samples;
          }
          last[name] = {T, r.fwdbwd};
          if (first_s > o.time_cap_s && r.fwdbwd > 1e3 * o.time_cap_s)
            stopped[name] = fmt("skipped: time cap %.0f s reached", o.time_cap_s);
          if (o.floor) {
            c.reset();
            if (std::unique_ptr<BenchCase> fl = make_floor_case(name, T, o, rng))
              r.floor = time_median([&] { fl->forward(); }, o.timing).median_ms;
          }
        } catch (const std::bad_alloc&) {
          r.status = "skipped: out of memory";
          stopped[name] = r.status;
        }
      }
      const bool ran = r.status == "ok";
      const bool has_floor = std::isfinite(r.floor);
      table.add({std::to_string(T), name, ran ? num(r.fwd) : "-", ran ? num(r.fwdbwd) : "-", mib(r.saved),
                 has_floor ? num(r.floor) : "", has_floor ? fmt("%.2f", r.fwd / r.floor) : "", ran ? "" : r.status});
      csv.row({o.layer ? "layer" : "core", std::to_string(T), std::to_string(o.d), std::to_string(o.batch),
               std::to_string(o.heads), name, ran ? fmt("%.6g", r.fwd) : "", ran ? fmt("%.6g", r.fwdbwd) : "",
               r.saved >= 0 ? fmt("%.0f", r.saved) : "", r.scratch >= 0 ? fmt("%.0f", r.scratch) : "",
               fmt("%.0f", r.core_saved), has_floor ? fmt("%.6g", r.floor) : "",
               has_floor ? fmt("%.4g", r.fwd / r.floor) : "", std::to_string(r.fwd_n), std::to_string(r.fwdbwd_n),
               std::to_string(threads), r.status});
      rows.push_back(r);
      // progress on stderr (the table comes at the end, aligned)
      std::fprintf(stderr, "  T=%-6d %-14s %s\n", T, name.c_str(),
                   ran ? fmt("fwd %s ms, fwd+bwd %s ms", num(r.fwd).c_str(), num(r.fwdbwd).c_str()).c_str()
                       : r.status.c_str());
    }
  }
  table.print(stdout);

  // ---- summary ---------------------------------------------------------------------------------
  auto find = [&](const std::string& m, int T) -> const Row* {
    for (const auto& r : rows)
      if (r.mixer == m && r.T == T && r.status == "ok") return &r;
    return nullptr;
  };
  std::vector<std::string> reference, quadratic;  // labels
  for (const auto& s : mixers())
    for (const auto& label : mixer_labels(s)) {
      if (s.bench.reference) reference.push_back(label);
      if (s.bench.quadratic_cap_t > 0) quadratic.push_back(label);
    }
  std::printf("\n");
  for (const auto& ref : reference) {
    // how the reference mixer's time grows with T
    std::vector<double> x, y, yr, x4, y4;
    for (const auto& r : rows)
      if (r.mixer == ref && r.status == "ok") {
        x.push_back(r.T);
        y.push_back(r.fwdbwd);
        yr.push_back(r.T * std::log2(double(r.T)));
        if (r.T >= 4096) {
          x4.push_back(r.T);
          y4.push_back(r.fwdbwd);
        }
      }
    if (x.size() >= 2) {
      std::printf("%s forward+backward vs T, log-log slope over T=%.0f..%.0f: %.3f  (T log T over the same Ts: %.3f; "
                  "T^2: 2)\n",
                  ref.c_str(), x.front(), x.back(), loglog_slope(x, y), loglog_slope(x, yr));
      if (x4.size() >= 2) {
        std::vector<double> y4r;
        for (double t : x4) y4r.push_back(t * std::log2(t));
        std::printf("%s forward+backward vs T, log-log slope over T=%.0f..%.0f: %.3f  (T log T: %.3f)\n", ref.c_str(),
                    x4.front(), x4.back(), loglog_slope(x4, y4), loglog_slope(x4, y4r));
      }
    }
  }
  for (const auto& q : quadratic)
    for (const auto& ref : reference) {
      // quadratic/reference forward ratio at every T where both ran
      std::string line;
      for (int T : Ts) {
        const Row *a = find(q, T), *f = find(ref, T);
        if (a && f) line += fmt("  T=%d: %.1fx", T, a->fwd / f->fwd);
      }
      if (!line.empty()) std::printf("%s/%s forward time:%s\n", q.c_str(), ref.c_str(), line.c_str());
    }
  if (o.layer) {
    std::printf("(the headline figures per mixer refer to the core op: run without --layer to see them)\n");
    std::printf("load average at the end: %s\n", load_average().c_str());
    if (!o.csv.empty()) std::printf("raw rows: %s\n", o.csv.c_str());
    return 0;
  }
  for (const auto& s : mixers())
    for (const auto& target : s.bench.targets)
      for (const auto& label : mixer_labels(s)) {
        const Row* r = find(label, target.T);
        if (!r) continue;
        const std::string note = target.text.empty() ? "" : " (" + target.text + ")";
        const char* text = note.c_str();
        switch (target.kind) {
          case BenchTarget::ForwardMs:
            std::printf("%s forward at T=%d: %s ms%s\n", label.c_str(), target.T, num(r->fwd).c_str(), text);
            break;
          case BenchTarget::FloorRatio:
            if (std::isfinite(r->floor))
              std::printf("%s forward at T=%d: %s ms, %s %s ms, ratio %.2f%s\n", label.c_str(), target.T,
                          num(r->fwd).c_str(), s.bench.floor_label.c_str(), num(r->floor).c_str(), r->fwd / r->floor,
                          text);
            break;
          case BenchTarget::ReferenceRatio:
            for (const auto& ref : reference)
              if (const Row* f = find(ref, target.T))
                std::printf("%s/%s forward at T=%d: %.0fx%s\n", label.c_str(), ref.c_str(), target.T,
                            r->fwd / f->fwd, text);
            break;
        }
      }
  std::printf("load average at the end: %s\n", load_average().c_str());
  if (!o.csv.empty()) std::printf("raw rows: %s\n", o.csv.c_str());
  return 0;
}

}  // namespace spectral::bench
