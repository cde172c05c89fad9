// Fuzz target for the small words of every configuration: durations (config::parse_duration),
// endpoints (base/endpoint.h and config::parse_endpoint) and TCP keepalive figures
// (config::parse_tcp_keepalive, the --tcp-keepalive form). Each either throws its documented
// error or gives a value that prints as a word parsing back to the same value.
#include "base/endpoint.h"
#include "config/config.h"
#include "fuzz_check.h"

#include <cstdint>
#include <string>

using namespace hamba;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  try {
    const config::Duration d = config::parse_duration(text);
    check(d.count() >= 0);
    check(config::parse_duration(config::format_duration(d)) == d);
  } catch (const config::ConfigError&) {
  }

  try {
    const Endpoint e = parse_endpoint(text, 0);
    check(parse_endpoint(format_endpoint(e), 0) == e);
    sockaddr_storage address{};
    if (ip_literal_sockaddr(e.host, e.port, address)) {
      check(is_ip_literal(e.host));
      const std::string shown = format_sockaddr(reinterpret_cast<sockaddr*>(&address));
      const Endpoint back = parse_endpoint(shown, 0);
      check(back.port == e.port && is_ip_literal(back.host));
      check(sockaddr_size(reinterpret_cast<sockaddr*>(&address)) > 0);
    }
  } catch (const EndpointError&) {
  }

  try {
    const Endpoint e = config::parse_endpoint(text);
    check(e.port >= 1);
    check(config::parse_endpoint(format_endpoint(e)) == e);
  } catch (const config::ConfigError&) {
  }
  try {
    const config::TcpKeepalive k = config::parse_tcp_keepalive(text);
    check(k.idle.count() >= 0 && k.interval.count() >= 0);
    if (k.enabled) { // its figures, written back in the same form, read the same
      const std::string again = config::format_duration(k.idle) + "," +
                                config::format_duration(k.interval) + "," + std::to_string(k.count);
      check(config::parse_tcp_keepalive(again) == k);
    }
  } catch (const config::ConfigError&) {
  }
  return 0;
}
