// The event log: one line per event on stderr, with a UTC timestamp and a level.
//
//     log::info("listening on {}", format_endpoint(bind));
//     -> 2026-11-26T15:40:00.123Z info listening on 0.0.0.0:80
//
// Lines are written with a single write(2) each, so they never interleave with other output.
#pragma once

#include <fmt/format.h>
#include <string_view>

namespace hamba::log {

enum class Level { info, warn, error };

// Writes one line; the functions below format and call this.
void write(Level level, std::string_view message);

template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void warn(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

} // namespace hamba::log
