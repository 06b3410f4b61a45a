// memory: memory_limit_bytes and format_bytes.
#include "util/memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace spectral {

size_t memory_limit_bytes() {
  size_t limit = 0;
  auto take = [&](size_t v) {
    if (v > 0 && (limit == 0 || v < limit)) limit = v;
  };
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) take(size_t(pages) * size_t(page));
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit r {};
    if (getrlimit(resource, &r) == 0 && r.rlim_cur != RLIM_INFINITY) take(size_t(r.rlim_cur));
  }
  return limit;
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1e9)
    std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else
    std::snprintf(buf, sizeof buf, "%.0f MB", bytes / 1e6);
  return buf;
}

}  // namespace spectral
