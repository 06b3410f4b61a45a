// eval_command: `spectral eval --checkpoint FILE|RUN_DIR --text FILE|- [--json] [--per-char CSV|-]` —
// loss in nats per character, bits per character, perplexity, characters scored; per character, its
// loss and whether it was the model's top prediction. "-" is standard
// input (--text) or standard output (--per-char: the CSV alone; the summary then goes to stderr).
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "data/dataset.h"
#include "data/utf8.h"
#include "io/checkpoint.h"
#include "io/checkpoint_path.h"
#include "util/files.h"
#include "eval/evaluate.h"
#include "util/errors.h"
#include "util/threads.h"

namespace spectral {

CLI::App* add_eval_command(CLI::App& app, Action* action) {
  struct Args {
    std::string checkpoint, text, per_char, split = "all", unknown = "error";
    int stride = 0, threads = 0;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand("eval", "Score a held-out text with a checkpoint");
  sub->add_option("--checkpoint", a->checkpoint, "Checkpoint (.safetensors) written by spectral train, or its run directory (best, else last)")
      ->required();
  sub->add_option("--text", a->text, "UTF-8 text to score (- reads standard input)")->required();
  sub->add_option("--split", a->split,
                  "Part of the text to score: all, or train/val as split by the checkpoint's data.val_fraction")
      ->capture_default_str()
      ->check(CLI::IsMember({"all", "train", "val"}));
  sub->add_option("--stride", a->stride,
                  "Window advance in characters (0 = context/2): every character is scored once, with at least "
                  "context - stride characters of history")
      ->capture_default_str();
  sub->add_option("--unknown", a->unknown, "Characters outside the vocabulary: error | skip")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "skip"}));
  sub->add_flag("--json", a->json, "Print exactly one JSON object {loss, bpc, perplexity, chars} on stdout");
  sub->add_option("--per-char", a->per_char, "Write a CSV with one row per scored character: position,character,loss,correct (correct: 1 if the "
                  "character is the model's top prediction, else 0; - writes it to stdout)");
  add_threads_option(sub, &a->threads);
  *action = [a]() -> int {
    const bool csv_to_stdout = a->per_char == "-";
    if (csv_to_stdout && a->json) throw InputError("eval: --per-char - and --json both want standard output; give one");
    if (!a->per_char.empty()) check_output_file(a->per_char, "--per-char " + a->per_char);
    set_threads(a->threads);
    std::string chosen;
    LoadedCheckpoint ck = load_checkpoint(resolve_checkpoint_path(a->checkpoint, &chosen), CheckpointContent::WeightsOnly);
    if (!chosen.empty()) spdlog::info("{}", chosen);
    const std::string where = a->text == "-" ? "text on standard input" : "text " + a->text;
    const std::u32string text = utf8_decode(read_input_bytes(a->text), where);
    const Encoded enc = ck.vocab.encode(text, a->unknown == "skip" ? OutOfVocab::Skip : OutOfVocab::Error, where);
    if (enc.dropped) spdlog::warn("{}", enc.dropped_summary);
    std::vector<int32_t> tokens = enc.ids;
    size_t first = 0;  // index in tokens of the first character of the scored part
    if (a->split != "all") {
      const size_t n_train = static_cast<size_t>(double(tokens.size()) * (1.0 - ck.config.data.val_fraction));
      if (a->split == "train") {
        tokens.resize(n_train);
      } else {
        tokens.erase(tokens.begin(), tokens.begin() + n_train);
        first = n_train;
      }
    }
    if (tokens.size() < 2) throw InputError(where + ": needs at least two characters to score, has " + std::to_string(tokens.size()));
    const int ctx = ck.config.model.context;
    const int stride = a->stride == 0 ? std::max(1, ctx / 2) : a->stride;
    if (stride < 1 || stride > ctx) throw InputError("eval: --stride must be in [1, context = " + std::to_string(ctx) + "]");
    std::vector<float> per;
    std::vector<uint8_t> correct;
    const bool want = !a->per_char.empty();
    const double total = score_text(*ck.model, tokens, stride, want ? &per : nullptr, want ? &correct : nullptr);
    const size_t chars = tokens.size() - 1;
    const double loss = total / chars, bpc = loss / std::log(2.0), ppl = std::exp(loss);
    if (!a->per_char.empty()) {
      std::string csv = "position,character,loss,correct\n";
      for (size_t i = 0; i < per.size(); i++) {
        std::string ch = ck.vocab.decode(&tokens[i + 1], 1);
        std::string quoted = "\"";
        for (char c : ch) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
        quoted += "\"";
        char num[64];
        std::snprintf(num, sizeof num, "%.6f", per[i]);
        csv += std::to_string(first + i + 1) + "," + quoted + "," + num + (correct[i] ? ",1\n" : ",0\n");
      }
      if (csv_to_stdout)
        std::fwrite(csv.data(), 1, csv.size(), stdout);
      else
        write_text_file_atomic(a->per_char, csv);
    }
    if (a->json) {
      std::cout << nlohmann::json{{"loss", loss}, {"bpc", bpc}, {"perplexity", ppl}, {"chars", chars}}.dump() << std::endl;
    } else {
      std::fprintf(csv_to_stdout ? stderr : stdout, "loss        %.4f nats/char\nbpc         %.4f\nperplexity  %.4f\nchars       %zu\n",
                   loss, bpc, ppl, chars);
    }
    return 0;
  };
  return sub;
}

}  // namespace spectral
