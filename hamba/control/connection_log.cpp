// Formats and writes the per-connection log line (connection_log.h).
#include "control/connection_log.h"

#include "control/json_quote.h"

#include <chrono>
#include <ctime>
#include <fmt/format.h>
#include <stdexcept>
#include <unistd.h>

namespace hamba::control {
namespace {

// A logfmt value: bare when it is one plain word, quoted (with \" and \\) otherwise.
std::string logfmt_value(const std::string& value) {
  if (value.empty())
    return "-";
  bool plain = value.find_first_of(" \"\\=\n\t") == std::string::npos;
  if (plain)
    return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

std::string now_text() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

} // namespace

ConnectionLogFormat parse_connection_log_format(const std::string& word) {
  if (word == "text")
    return ConnectionLogFormat::text;
  if (word == "json")
    return ConnectionLogFormat::json;
  if (word.empty() || word == "off" || word == "none")
    return ConnectionLogFormat::off;
  throw std::invalid_argument("connection log format '" + word + "' is not text, json or off");
}

std::string format_connection(const ConnectionRecord& r, ConnectionLogFormat format,
                              const std::string& time) {
  switch (format) {
  case ConnectionLogFormat::off:
    return {};
  case ConnectionLogFormat::text:
    return fmt::format("{} conn frontend={} client={} server={} address={} bytes_in={} "
                       "bytes_out={} duration_ms={} end={}{}",
                       time, logfmt_value(r.frontend), logfmt_value(r.client),
                       logfmt_value(r.server), logfmt_value(r.address), r.bytes_in, r.bytes_out,
                       r.duration.count(), logfmt_value(r.end),
                       r.tls_subject.empty() ? "" : " tls_subject=" + logfmt_value(r.tls_subject));
  case ConnectionLogFormat::json:
    return fmt::format(
        "{{\"time\":{},\"event\":\"connection\",\"frontend\":{},\"client\":{},"
        "\"server\":{},\"address\":{},\"bytes_in\":{},\"bytes_out\":{},"
        "\"duration_ms\":{},\"end\":{}{}}}",
        json_quote(time), json_quote(r.frontend), json_quote(r.client), json_quote(r.server),
        json_quote(r.address), r.bytes_in, r.bytes_out, r.duration.count(), json_quote(r.end),
        r.tls_subject.empty() ? "" : ",\"tls_subject\":" + json_quote(r.tls_subject));
  }
  return {};
}

void log_connection(const ConnectionRecord& record, ConnectionLogFormat format) {
  if (format == ConnectionLogFormat::off)
    return;
  std::string line = format_connection(record, format, now_text()) + "\n";
  // One write(2) so that lines never interleave with the event log.
  ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
  (void)written;
}

} // namespace hamba::control
