// Log line formatting and output (see log.h).
#include "common/log.h"

#include <unistd.h>

namespace services::log {

namespace {
std::string g_service = "dockercoins";
bool g_debug = false;

const char* level_name(Level level) {
  switch (level) {
  case Level::Debug:
    return "DEBUG";
  case Level::Info:
    return "INFO";
  case Level::Warning:
    return "WARNING";
  case Level::Error:
    return "ERROR";
  }
  return "INFO";
}
} // namespace

void init(std::string service, bool debug) {
  g_service = std::move(service);
  g_debug = debug;
}

bool debug_enabled() {
  return g_debug;
}

void write(Level level, std::string_view message) {
  std::string line = fmt::format("{}:{}:{}\n", level_name(level), g_service, message);
  std::string_view rest = line;
  while (!rest.empty()) { // stderr is a pipe or a terminal: short writes are possible
    ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n <= 0)
      return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

} // namespace services::log
