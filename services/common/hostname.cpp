// hostname() through libuv (see hostname.h).
#include "common/hostname.h"

#include <uv.h>

namespace services {

std::string hostname() {
  char name[UV_MAXHOSTNAMESIZE];
  size_t size = sizeof name;
  if (uv_os_gethostname(name, &size) != 0)
    return "unknown";
  return std::string(name, size);
}

} // namespace services
