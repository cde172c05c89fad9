// The machine's host name (the container's name under Docker), for the "RNG running on <host>"
// and "HASHER running on <host>" answers.
#pragma once

#include <string>

namespace services {

// uv_os_gethostname, or "unknown" if it fails.
std::string hostname();

} // namespace services
