// memory: how much memory this process may use, and byte counts for messages — so that a config
// too large for the machine is refused with its estimate before anything is allocated.
#pragma once

#include <cstddef>
#include <string>

namespace spectral {

// The smaller of the machine's physical memory and the process's address-space and data limits
// (ulimit -v, -d); 0 when none of them is known.
size_t memory_limit_bytes();

// "512 MB", "3.2 GB".
std::string format_bytes(double bytes);

}  // namespace spectral
