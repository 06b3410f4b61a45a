// progress: ProgressLine and the number formats of training messages.
#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace spectral {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int total = static_cast<int>(s + 0.5);
  char buf[32];
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", total / 3600, (total / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", total / 60, total % 60);
  return buf;
}

std::string number_text(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO)) {}

void ProgressLine::show(int step, int steps, double loss, double lr, double tokens_per_s, double eta_s, double spent_s,
                        double budget_s) {
  if (!enabled_) return;
  const std::string where = budget_s > 0 ? "step " + std::to_string(step) + " | time " + format_duration(spent_s) +
                                               " of " + format_duration(budget_s)
                                         : "step " + std::to_string(step) + "/" + std::to_string(steps);
  std::fprintf(stderr, "%s%s | loss %.4f | lr %.2e | %.0f tok/s | ETA %s%s", tty_ ? "\r" : "", where.c_str(), loss, lr,
               tokens_per_s, format_duration(eta_s).c_str(), tty_ ? "   " : "\n");
  std::fflush(stderr);
}

void ProgressLine::break_line() {
  if (enabled_ && tty_) std::fputs("\n", stderr);
}

}  // namespace spectral
