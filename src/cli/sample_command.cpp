// sample_command: `spectral sample --checkpoint FILE|RUN_DIR (--prompt TEXT | --prompt-file FILE|-) ...`.
// stdout carries the prompt and its continuation, nothing else; diagnostics go to stderr (among them,
// at the end, the characters per second generation achieved).
// --samples N (N > 1): N continuations of the prompt, stream i drawn with seed S+i, generated
// together and printed when they are done, one after another, each preceded by the line
// "=== sample i (seed S+i) ===" (i from 0); N = 1 prints exactly what plain `sample` prints, as the
// text is generated. --json: one object per sample and line, {"sample": i, "seed": S+i, "text":
// the continuation (without the prompt)}.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "data/utf8.h"
#include "util/files.h"
#include "io/checkpoint.h"
#include "io/checkpoint_path.h"
#include "sample/sampler.h"
#include "util/errors.h"
#include "util/memory.h"
#include "util/threads.h"

namespace spectral {

CLI::App* add_sample_command(CLI::App& app, Action* action) {
  struct Args {
    std::string checkpoint, prompt, prompt_file, unknown = "error";
    int tokens = 500, top_k = 0, threads = 0;
    long long samples = 1;
    bool json = false;
    double temperature = 1.0, top_p = 1.0;
    uint64_t seed = 1337;
    bool no_cache = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand("sample", "Generate text from a checkpoint");
  sub->add_option("--checkpoint", a->checkpoint, "Checkpoint (.safetensors) written by spectral train, or its run directory (best, else last)")
      ->required();
  auto* p1 = sub->add_option("--prompt", a->prompt, "Prompt text");
  auto* p2 = sub->add_option("--prompt-file", a->prompt_file, "Read the prompt from a UTF-8 file (- reads standard input)");
  p1->excludes(p2);
  sub->add_option("--tokens", a->tokens, "Characters to generate")->capture_default_str();
  sub->add_option("--temperature", a->temperature, "Softmax temperature; 0 = greedy")->capture_default_str();
  sub->add_option("--top-k", a->top_k, "Keep only the k most likely characters (0 = off)")->capture_default_str();
  sub->add_option("--top-p", a->top_p, "Nucleus sampling: smallest set with this much mass, in (0, 1]")->capture_default_str();
  sub->add_option("--seed", a->seed, "Random seed (0 or more)")->capture_default_str()
      ->check(CLI::Validator([](std::string& v) { return v.rfind('-', 0) == 0 ? "must be 0 or more, got " + v : ""; }, ""));
  sub->add_option("--unknown", a->unknown, "Prompt characters outside the vocabulary: error | skip")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "skip"}));
  sub->add_option("--samples", a->samples,
                  "Independent continuations of the prompt, stream i seeded seed+i, generated together; printed one "
                  "after another, each after a line \"=== sample i (seed S) ===\" (none when 1)")
      ->capture_default_str();
  sub->add_flag("--json", a->json, "One JSON object per sample and line: {\"sample\", \"seed\", \"text\" (the continuation)}");
  sub->add_flag("--no-cache", a->no_cache, "Recompute the whole window for every character (no incremental state)");
  add_threads_option(sub, &a->threads);
  *action = [a, p1, p2]() -> int {
    if (p1->count() == 0 && p2->count() == 0) throw InputError("sample: give --prompt TEXT or --prompt-file FILE");
    if (a->tokens <= 0) throw InputError("sample: --tokens must be positive, got " + std::to_string(a->tokens));
    if (a->temperature < 0) throw InputError("sample: --temperature must be >= 0, got " + std::to_string(a->temperature));
    if (!(a->top_p > 0 && a->top_p <= 1)) throw InputError("sample: --top-p must be in (0, 1], got " + std::to_string(a->top_p));
    if (a->top_k < 0) throw InputError("sample: --top-k must be >= 0, got " + std::to_string(a->top_k));
    if (a->samples < 1) throw InputError("sample: --samples must be at least 1, got " + std::to_string(a->samples));
    set_threads(a->threads);
    const std::string where = !p2->count() ? "prompt" : a->prompt_file == "-" ? "prompt on standard input" : "prompt file " + a->prompt_file;
    const std::string bytes = p2->count() ? read_input_bytes(a->prompt_file) : a->prompt;
    const std::u32string text = utf8_decode(bytes, where);
    if (text.empty()) throw InputError(where + ": empty");
    std::string chosen;
    LoadedCheckpoint ck = load_checkpoint(resolve_checkpoint_path(a->checkpoint, &chosen), CheckpointContent::WeightsOnly);
    if (!chosen.empty()) spdlog::info("{}", chosen);
    const Encoded enc = ck.vocab.encode(text, a->unknown == "skip" ? OutOfVocab::Skip : OutOfVocab::Error, where);
    if (enc.dropped) spdlog::warn("{}", enc.dropped_summary);
    if (enc.ids.empty()) throw InputError(where + ": no characters left after skipping unknown ones");
    SamplingOptions so;
    so.temperature = a->temperature;
    so.top_k = a->top_k;
    so.top_p = a->top_p;
    so.seed = a->seed;
    GenerationOptions go;
    go.incremental = !a->no_cache;
    // each stream keeps a state of the whole context: refuse a count the memory cannot hold
    const int S = a->samples > 1 << 30 ? 1 << 30 : int(a->samples);
    const double need = double(ck.model->stream_bytes(ck.model->config().context)) * double(a->samples);
    const size_t limit = memory_limit_bytes();
    if (a->samples > 1 && !a->no_cache && limit > 0 && need > double(limit))
      throw InputError("sample: --samples " + std::to_string(a->samples) + " needs about " + format_bytes(need) +
                       " of generation state, more than the " + format_bytes(double(limit)) + " available");
    if (a->samples > 1 << 30) throw InputError("sample: --samples " + std::to_string(a->samples) + " is too many");
    const std::string shown = ck.vocab.decode(enc.ids);
    const bool live = S == 1 && !a->json;  // the text appears as it is generated
    if (live) {
      std::fwrite(shown.data(), 1, shown.size(), stdout);
      std::fflush(stdout);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto outs = generate_streams(*ck.model, enc.ids, a->tokens, S, so, go, [&](int, int32_t id) {
      if (!live) return;
      const std::string s = ck.vocab.decode(&id, 1);
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (int i = 0; i < S && !live; i++) {
      const std::string text = ck.vocab.decode(outs[i]);
      if (a->json) {
        const std::string line =
            nlohmann::json{{"sample", i}, {"seed", a->seed + uint64_t(i)}, {"text", text}}.dump() + "\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
      } else {
        if (S > 1) std::fprintf(stdout, "=== sample %d (seed %llu) ===\n", i, (unsigned long long)(a->seed + i));
        std::fwrite(shown.data(), 1, shown.size(), stdout);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputs("\n", stdout);
      }
      std::fflush(stdout);
    }
    if (live) std::fputs("\n", stdout);
    const double chars = double(S) * a->tokens;
    spdlog::info("sample: {} characters ({} stream{} x {}) in {:.3f} s: {:.0f} characters/s", (long long)chars, S,
                 S == 1 ? "" : "s", a->tokens, secs, secs > 0 ? chars / secs : 0.0);
    return 0;
  };
  return sub;
}

}  // namespace spectral
