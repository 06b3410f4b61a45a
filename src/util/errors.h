// errors: the exception types for problems a user can cause and fix — bad files, bad text, bad
// checkpoints, a disk that refuses a write. Messages are one line and say what is wrong and where
// (file path, byte offset, tensor name, ...). Programming errors stay std::logic_error and friends.
#pragma once

#include <stdexcept>
#include <string>

namespace spectral {

// Base of every user-facing error; the CLI catches this one type and prints what().
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The input itself is wrong: invalid UTF-8, a character outside the vocabulary, a corrupt or
// hostile checkpoint, an argument that makes no sense.
struct InputError : Error {
  using Error::Error;
};

// The operating system refused: a file that cannot be opened, read, written, synced or renamed.
// The message ends with the system's reason (strerror).
struct IoError : Error {
  using Error::Error;
};

// Bytes from a hostile file made safe for a one-line message: printable ASCII kept, every other
// byte as \xHH, cut to max_chars (with "...") when longer.
std::string printable(const std::string& bytes, size_t max_chars = 80);

// Training hit a non-finite loss or gradient; the message names the step.
struct NumericalError : Error {
  using Error::Error;
};

// The exit code the program ends with for an error: 3 for NumericalError, 2 for any other Error
// (usage, config, input, I/O), 1 for anything else.
int exit_code_of(const std::exception& e);

}  // namespace spectral
