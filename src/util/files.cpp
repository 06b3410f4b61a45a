// files: whole-file reads and crash-safe writes.
#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/errors.h"

namespace spectral {

namespace {
std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& what, int err, int fd) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError("cannot write " + path + ": " + what + ": " + std::strerror(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw IoError("cannot write " + path + ": creating " + tmp + ": " + std::strerror(err));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing " + tmp, errno, fd);
    }
    if (n == 0) fail("writing " + tmp, EIO, fd);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("syncing " + tmp, errno, fd);
  if (::close(fd) != 0) fail("closing " + tmp, errno, -1);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("renaming " + tmp, errno, -1);
  const int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

namespace {
std::string read_all(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw IoError(path + ": cannot stat: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw IoError(path + ": cannot read: it is a directory");
  std::string bytes;
  if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw IoError(path + ": read failed after " + std::to_string(bytes.size()) + " bytes: " + std::strerror(errno));
    }
    if (got == 0) break;
    bytes.append(buf, static_cast<size_t>(got));
  }
  return bytes;
}
}  // namespace

std::string read_file_bytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  return read_all(fd, path);
}

std::string read_input_bytes(const std::string& path) {
  return path == "-" ? read_all(STDIN_FILENO, "standard input") : read_file_bytes(path);
}

void check_output_file(const std::string& path, const std::string& what) {
  if (path == "-") return;
  if (path.empty()) throw IoError(what + ": empty path");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw IoError(what + ": is a directory");
  const std::string dir = dir_of(path);
  if (::stat(dir.c_str(), &st) != 0) throw IoError(what + ": directory " + dir + " does not exist");
  if (!S_ISDIR(st.st_mode)) throw IoError(what + ": " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK) != 0) throw IoError(what + ": directory " + dir + " is not writable: " + std::strerror(errno));
}

}  // namespace spectral
