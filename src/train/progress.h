// progress: the one-line progress display on stderr (step, loss, rate, tokens/s, ETA), redrawn in
// place on a terminal and one line per update otherwise; log messages first end the line.
#pragma once

#include <string>

namespace spectral {

// "1m05s", "2h03m"; "?" for a negative or non-finite duration.
std::string format_duration(double seconds);
// A number for a message: "nan", "inf", "-inf" or 4 significant digits.
std::string number_text(double x);

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  // With a time budget that ends the run before its steps do (budget_s > 0), the line shows the
  // time spent of the budget instead of the step count's total.
  void show(int step, int steps, double loss, double lr, double tokens_per_s, double eta_s, double spent_s = 0,
            double budget_s = 0);
  // Ends a redrawn line so that a log message starts on its own line.
  void break_line();

 private:
  bool enabled_, tty_;
};

}  // namespace spectral
