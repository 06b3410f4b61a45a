// stop_signal: SIGINT and SIGTERM as a request to stop a long run cleanly. The handler only records
// the signal; the training loop polls it after every step, writes a checkpoint and returns, and the
// command exits with 128 + the signal number. A second signal of either kind gets the default
// action: the process ends at once (checkpoints are written atomically, so nothing is torn).
#pragma once

#include <csignal>

namespace spectral {

// Installs the handlers (idempotent).
void install_stop_handlers();
// 0 until SIGINT or SIGTERM arrives, then its number.
const volatile std::sig_atomic_t* stop_requested();

}  // namespace spectral
