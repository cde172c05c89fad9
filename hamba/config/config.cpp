// The configuration model's checks and printing: validate(), to_yaml(), and the duration and
// endpoint syntax shared by the command line and the YAML file (see config.h).
#include "config/config.h"

#include <charconv>
#include <fmt/format.h>
#include <set>
#include <yaml-cpp/yaml.h>

namespace hamba::config {

namespace {

const char* balance_name(Balance b) {
  return b == Balance::leastconn ? "leastconn" : "roundrobin";
}

const char* state_name(ServerState s) {
  switch (s) {
  case ServerState::enabled:
    return "enabled";
  case ServerState::disabled:
    return "disabled";
  case ServerState::drain:
    return "drain";
  }
  return "enabled";
}

void check_positive(Duration d, const std::string& what, const std::string& where) {
  if (d.count() <= 0)
    throw ConfigError(fmt::format("{}: {} must be more than 0", where, what));
}

} // namespace

Duration parse_duration(const std::string& text) {
  std::string_view s = text;
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
    ++digits;
  if (digits == 0)
    throw ConfigError(fmt::format("\"{}\" is not a duration (write 250ms, 5s, 2m or 1h)", text));
  long long value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + digits, value);
  if (ec != std::errc{} || value > 1'000'000'000LL)
    throw ConfigError(fmt::format("duration \"{}\" is too large", text));
  std::string_view unit = s.substr(digits);
  long long factor = 0;
  if (unit.empty() || unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1000;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else
    throw ConfigError(fmt::format("\"{}\" is not a duration (write 250ms, 5s, 2m or 1h)", text));
  return Duration(value * factor);
}

std::string format_duration(Duration d) {
  long long ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0)
    return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0)
    return fmt::format("{}m", ms / 60'000);
  if (ms != 0 && ms % 1000 == 0)
    return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Endpoint parse_endpoint(const std::string& text) {
  try {
    return hamba::parse_endpoint(text);
  } catch (const EndpointError& e) {
    throw ConfigError(e.what());
  }
}

void validate(const Config& config) {
  if (config.maxconn && *config.maxconn < 1)
    throw ConfigError(fmt::format("maxconn {} must be at least 1", *config.maxconn));
  if (config.threads && (*config.threads < 1 || *config.threads > kMaxThreads))
    throw ConfigError(
        fmt::format("threads {} must be between 1 and {}", *config.threads, kMaxThreads));
  if (config.grace.count() < 0)
    throw ConfigError("grace must not be negative");
  if (!config.admin.empty()) {
    Endpoint admin = parse_endpoint(config.admin);
    if (!admin.host.empty() && !is_ip_literal(admin.host))
      throw ConfigError(fmt::format("admin address \"{}\" is not an IP address", admin.host));
  }
  std::set<std::string> names;
  std::set<uint16_t> ports;
  for (const Frontend& f : config.frontends) {
    std::string where = fmt::format("frontend \"{}\"", f.name);
    if (f.name.empty())
      throw ConfigError(fmt::format("frontend on {} has no name", format_endpoint(f.bind)));
    if (!names.insert(f.name).second)
      throw ConfigError(fmt::format("two frontends are named \"{}\"", f.name));
    if (f.bind.port == 0)
      throw ConfigError(fmt::format("{}: port 0 is out of range 1-65535", where));
    if (!f.bind.host.empty() && !is_ip_literal(f.bind.host))
      throw ConfigError(
          fmt::format("{}: bind address \"{}\" is not an IP address", where, f.bind.host));
    // Two frontends on one port conflict unless both name distinct specific addresses; keep the
    // rule simple and clear: one frontend per port.
    if (!ports.insert(f.bind.port).second)
      throw ConfigError(fmt::format("{}: port {} is used twice", where, f.bind.port));
    if (f.servers.empty())
      throw ConfigError(fmt::format("{}: no server (write HOST:PORT after the port)", where));
    check_positive(f.connect_timeout, "connect_timeout", where);
    check_positive(f.idle_timeout, "idle_timeout", where);
    check_positive(f.resolve_interval, "resolve_interval", where);
    if (f.dns_hold.count() < 0)
      throw ConfigError(fmt::format("{}: dns_hold must not be negative", where));
    check_positive(f.check.interval, "check interval", where);
    check_positive(f.check.timeout, "check timeout", where);
    if (f.retries < 0 || f.retries > 100)
      throw ConfigError(fmt::format("{}: retries {} must be between 0 and 100", where, f.retries));
    if (f.check.rise < 1 || f.check.fall < 1)
      throw ConfigError(fmt::format("{}: check rise and fall must be at least 1", where));
    std::set<std::string> seen;
    for (const Server& s : f.servers) {
      std::string addr = format_endpoint(s.address);
      if (s.address.host.empty())
        throw ConfigError(fmt::format("{}: server \"{}\" has no host", where, addr));
      if (s.address.port == 0)
        throw ConfigError(
            fmt::format("{}: server \"{}\": port 0 is out of range 1-65535", where, addr));
      if (s.maxconn && *s.maxconn < 1)
        throw ConfigError(fmt::format("{}: server \"{}\": maxconn {} must be at least 1", where,
                                      addr, *s.maxconn));
      if (!seen.insert(addr).second)
        throw ConfigError(fmt::format("{}: server \"{}\" is listed twice", where, addr));
    }
  }
}

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (config.maxconn)
    out << YAML::Key << "maxconn" << YAML::Value << *config.maxconn;
  if (config.threads)
    out << YAML::Key << "threads" << YAML::Value << *config.threads;
  out << YAML::Key << "grace" << YAML::Value << format_duration(config.grace);
  if (!config.admin.empty())
    out << YAML::Key << "admin" << YAML::Value << config.admin;
  out << YAML::Key << "frontends" << YAML::Value << YAML::BeginSeq;
  for (const Frontend& f : config.frontends) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << f.name;
    out << YAML::Key << "bind" << YAML::Value << YAML::DoubleQuoted << format_endpoint(f.bind);
    out << YAML::Key << "balance" << YAML::Value << balance_name(f.balance);
    out << YAML::Key << "connect_timeout" << YAML::Value << format_duration(f.connect_timeout);
    out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(f.idle_timeout);
    out << YAML::Key << "retries" << YAML::Value << f.retries;
    out << YAML::Key << "resolve_interval" << YAML::Value << format_duration(f.resolve_interval);
    out << YAML::Key << "dns_hold" << YAML::Value << format_duration(f.dns_hold);
    out << YAML::Key << "check" << YAML::Value << YAML::Flow << YAML::BeginMap;
    if (!f.check.enabled)
      out << YAML::Key << "enabled" << YAML::Value << false;
    out << YAML::Key << "interval" << YAML::Value << format_duration(f.check.interval);
    out << YAML::Key << "timeout" << YAML::Value << format_duration(f.check.timeout);
    out << YAML::Key << "rise" << YAML::Value << f.check.rise;
    out << YAML::Key << "fall" << YAML::Value << f.check.fall;
    out << YAML::EndMap;
    out << YAML::Key << "servers" << YAML::Value << YAML::BeginSeq;
    for (const Server& s : f.servers) {
      out << YAML::BeginMap;
      out << YAML::Key << "address" << YAML::Value << YAML::DoubleQuoted
          << format_endpoint(s.address);
      if (s.maxconn)
        out << YAML::Key << "maxconn" << YAML::Value << *s.maxconn;
      out << YAML::Key << "state" << YAML::Value << state_name(s.state);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

} // namespace hamba::config
