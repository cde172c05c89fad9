// The event log's one output function (see log.h).
#include "base/log.h"

#include <chrono>
#include <ctime>
#include <unistd.h>

namespace hamba::log {

namespace {
const char* level_name(Level level) {
  switch (level) {
  case Level::info:
    return "info";
  case Level::warn:
    return "warn";
  case Level::error:
    return "error";
  }
  return "?";
}
} // namespace

void write(Level level, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t seconds = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line = fmt::format("{}.{:03}Z {} {}\n", stamp, millis, level_name(level), message);
  // One write per line; a short write to stderr is not worth retrying for a log.
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace hamba::log
