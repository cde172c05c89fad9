// One-line logs on stderr for the DockerCoins services, in the shape of Python's logging module
// that the original worker used: "INFO:worker:Coin found: 0f3a29b1...". Debug lines only when
// enabled (DEBUG=y / --debug).
//
//     services::log::init("worker", flags.on("debug"));
//     services::log::info("{} units of work done, updating hash counter", units);
#pragma once

#include <fmt/format.h>
#include <string>
#include <string_view>

namespace services::log {

enum class Level { Debug, Info, Warning, Error };

void init(std::string service, bool debug);
bool debug_enabled();
// Writes "LEVEL:service:message\n" with one write, so lines of concurrent processes do not mix.
void write(Level level, std::string_view message);

template <typename... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (debug_enabled())
    write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void warning(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

} // namespace services::log
