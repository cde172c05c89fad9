// File descriptor limit, count and local errors; see descriptors.h.
#include "base/descriptors.h"

#include <climits>
#include <dirent.h>
#include <sys/resource.h>
#include <uv.h>

namespace hamba {

bool is_local_error(int uv_error) {
  // EADDRNOTAVAIL and EAGAIN on a connect: no local port is left toward that address (TIME_WAIT
  // holds them all), which says nothing about the server.
  return uv_error == UV_EMFILE || uv_error == UV_ENFILE || uv_error == UV_ENOBUFS ||
         uv_error == UV_ENOMEM || uv_error == UV_EADDRNOTAVAIL || uv_error == UV_EAGAIN;
}

int local_error_index(int uv_error) {
  switch (uv_error) {
  case UV_EMFILE:
    return 0;
  case UV_ENFILE:
    return 1;
  case UV_ENOBUFS:
    return 2;
  case UV_ENOMEM:
    return 3;
  default:
    return 4;
  }
}

int descriptor_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur > static_cast<rlim_t>(INT_MAX))
    return INT_MAX;
  return static_cast<int>(rl.rlim_cur);
}

int descriptors_open() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir)
    return -1;
  int n = 0;
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.')
      ++n;
  closedir(dir);
  return n - 1; // the directory's own descriptor
}

} // namespace hamba
