// The configuration model's checks and printing: validate(), to_yaml(), and the duration and
// endpoint syntax shared by the command line and the YAML file (see config.h).
#include "config/config.h"

#include <charconv>
#include <fmt/format.h>
#include <set>
#include <string_view>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace hamba::config {

namespace {
// Names go into logs, /metrics labels and YAML, which all want UTF-8: a byte sequence that is
// not UTF-8 would be printed as something else than what was read.
bool valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t more = c < 0x80           ? 0
                  : (c >> 5) == 0x6  ? 1
                  : (c >> 4) == 0xE  ? 2
                  : (c >> 3) == 0x1E ? 3
                                     : 9;
    if (more == 9 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + more >= text.size() + (more == 0))
      return false;
    for (size_t k = 1; k <= more; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80)
        return false;
    i += more;
  }
  return true;
}
} // namespace

namespace {

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

void check_servers(const std::vector<Server>& servers, const std::string& where) {
  std::set<std::string> seen;
  for (const Server& s : servers) {
    std::string addr = format_endpoint(s.address);
    if (s.address.host.empty())
      throw ConfigError(fmt::format("{}: server \"{}\" has no host", where, addr));
    if (s.address.port == 0)
      throw ConfigError(
          fmt::format("{}: server \"{}\": port 0 is out of range 1-65535", where, addr));
    if (s.maxconn && *s.maxconn < 1)
      throw ConfigError(
          fmt::format("{}: server \"{}\": maxconn {} must be at least 1", where, addr, *s.maxconn));
    if (s.weight < 1 || s.weight > 256)
      throw ConfigError(fmt::format("{}: server \"{}\": weight {} must be between 1 and 256", where,
                                    addr, s.weight));
    if (!seen.insert(addr).second)
      throw ConfigError(fmt::format("{}: server \"{}\" is listed twice", where, addr));
  }
}

void emit_server_tls(YAML::Emitter& out, const ServerTls& t) {
  out << YAML::Key << "server_tls" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "verify" << YAML::Value << YAML::DoubleQuoted << t.verify;
  if (!t.sni.empty())
    out << YAML::Key << "sni" << YAML::Value << YAML::DoubleQuoted << t.sni;
  if (!t.cert.empty())
    out << YAML::Key << "cert" << YAML::Value << YAML::DoubleQuoted << t.cert << YAML::Key << "key"
        << YAML::Value << YAML::DoubleQuoted << t.key;
  out << YAML::EndMap;
}

void check_routes(const Frontend& f, const std::string& where) {
  std::set<std::string> names;
  std::set<std::string> patterns;
  for (const Route& r : f.routes) {
    std::string at = fmt::format("{}: route \"{}\"", where, r.name);
    if (r.sni.empty())
      throw ConfigError(fmt::format("{}: no sni name (write sni: [a.example.com])", at));
    if (r.server_tls &&
        (r.server_tls->verify.empty() || r.server_tls->cert.empty() != r.server_tls->key.empty()))
      throw ConfigError(
          fmt::format("{}: server_tls needs verify (a CA file or none), and cert with key", at));
    for (const std::string& p : r.sni) {
      if (parse_sni_pattern(p) != p)
        throw ConfigError(fmt::format("{}: sni \"{}\" must be written in lower case", at, p));
      if (!patterns.insert(p).second)
        throw ConfigError(fmt::format("{}: sni \"{}\" is in two routes", at, p));
    }
    if (!valid_utf8(r.name))
      throw ConfigError(fmt::format("{}: a route name is not UTF-8", where));
    if (r.name.empty())
      throw ConfigError(fmt::format("{}: a route has no name", where));
    if (r.name == "default" || !names.insert(r.name).second)
      throw ConfigError(
          fmt::format("{}: route name \"{}\" is {}", where, r.name,
                      r.name == "default" ? "kept for the frontend's own servers" : "used twice"));
    if (r.servers.empty())
      throw ConfigError(fmt::format("{}: no server", at));
    check_servers(r.servers, at);
  }
}

} // namespace

ProxyProtocol parse_proxy_protocol(const std::string& text) {
  if (text == "none")
    return ProxyProtocol::none;
  if (text == "v1")
    return ProxyProtocol::v1;
  if (text == "v2")
    return ProxyProtocol::v2;
  throw ConfigError(fmt::format("send_proxy \"{}\" is not none, v1 or v2", text));
}

const char* proxy_protocol_name(ProxyProtocol p) {
  switch (p) {
  case ProxyProtocol::v1:
    return "v1";
  case ProxyProtocol::v2:
    return "v2";
  case ProxyProtocol::none:
    break;
  }
  return "none";
}

std::string parse_sni_pattern(const std::string& text) {
  std::string name = text;
  bool wildcard = name.size() > 2 && name[0] == '*' && name[1] == '.';
  size_t start = wildcard ? 2 : 0;
  bool ok = name.size() > start && name.size() <= 253;
  for (size_t i = start; ok && i < name.size(); ++i) {
    char& ch = name[i];
    if (ch >= 'A' && ch <= 'Z')
      ch = static_cast<char>(ch - 'A' + 'a');
    if (ch == '.')
      ok = i != start && i + 1 != name.size() && name[i - 1] != '.';
    else
      ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
  }
  if (!ok)
    throw ConfigError(fmt::format(
        "sni \"{}\" is not a host name or a wildcard (write a.example.com or *.example.com)",
        text));
  return name;
}

bool sni_matches(std::string_view pattern, std::string_view server_name) {
  if (pattern.size() < 2 || pattern[0] != '*' || pattern[1] != '.')
    return pattern == server_name;
  std::string_view suffix = pattern.substr(1); // ".example.com"
  if (server_name.size() <= suffix.size() || !server_name.ends_with(suffix))
    return false;
  std::string_view label = server_name.substr(0, server_name.size() - suffix.size());
  return label.find('.') == std::string_view::npos;
}

const char* balance_name(Balance b) {
  switch (b) {
  case Balance::leastconn:
    return "leastconn";
  case Balance::source:
    return "source";
  case Balance::first:
    return "first";
  case Balance::roundrobin:
    break;
  }
  return "roundrobin";
}

Balance parse_balance(const std::string& text) {
  for (Balance b : {Balance::roundrobin, Balance::leastconn, Balance::source, Balance::first})
    if (text == balance_name(b))
      return b;
  throw ConfigError(
      fmt::format("unknown balance algorithm '{}' (roundrobin, leastconn, source or first)", text));
}

const char* check_type_name(CheckType t) {
  switch (t) {
  case CheckType::http:
    return "http";
  case CheckType::redis:
    return "redis";
  case CheckType::tcp:
    break;
  }
  return "tcp";
}

CheckType parse_check_type(const std::string& text) {
  for (CheckType t : {CheckType::tcp, CheckType::http, CheckType::redis})
    if (text == check_type_name(t))
      return t;
  throw ConfigError(fmt::format("unknown check type '{}' (tcp, http or redis)", text));
}

void parse_status_range(const std::string& text, int& low, int& high) {
  auto number = [&](std::string_view part) {
    int n = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size() || n < 100 || n > 599)
      throw ConfigError(fmt::format(
          "status \"{}\" is not a status or a range of them (write 200-399 or 200)", text));
    return n;
  };
  std::string_view t = text;
  size_t dash = t.find('-');
  low = number(t.substr(0, dash));
  high = dash == std::string_view::npos ? low : number(t.substr(dash + 1));
  if (low > high)
    throw ConfigError(fmt::format("status range \"{}\" ends before it starts", text));
}

void check_http_target(const std::string& path, const std::string& host) {
  if (path.empty() || path[0] != '/')
    throw ConfigError(fmt::format("check path \"{}\" must start with \"/\"", path));
  for (char c : path)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      throw ConfigError(fmt::format("check path \"{}\" has a space or a control character", path));
  for (char c : host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      throw ConfigError(fmt::format("check host \"{}\" has a space or a control character", host));
}

void parse_check_word(const std::string& text, HealthCheck& check) {
  std::string type = text.substr(0, text.find(':'));
  check.type = parse_check_type(type);
  if (type.size() == text.size())
    return;
  if (check.type != CheckType::http)
    throw ConfigError(fmt::format("check \"{}\": only http takes a path (http:/health)", text));
  check.path = text.substr(type.size() + 1);
  check_http_target(check.path, check.host);
}

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

TcpKeepalive parse_tcp_keepalive(const std::string& text) {
  TcpKeepalive k;
  if (text == "off" || text == "false" || text == "no") {
    k.enabled = false;
    return k;
  }
  k.enabled = true;
  if (text == "on" || text == "true" || text == "yes")
    return k;
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  auto bad = [&] {
    return ConfigError(fmt::format(
        "tcp keepalive \"{}\" is not on, off or IDLE[,INTERVAL[,COUNT]] (write 60s,15s,4)", text));
  };
  if (parts.size() > 3)
    throw bad();
  try {
    k.idle = parse_duration(parts[0]);
    if (parts.size() > 1)
      k.interval = parse_duration(parts[1]);
  } catch (const ConfigError&) {
    throw bad();
  }
  if (parts.size() > 2) {
    const std::string& count = parts[2];
    auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), k.count);
    if (count.empty() || ec != std::errc{} || end != count.data() + count.size())
      throw bad();
  }
  return k;
}

void check_tcp_options(const TcpOptions& options, const std::string& what) {
  // The kernel's bounds: MAX_TCP_KEEPIDLE and MAX_TCP_KEEPINTVL are 32767 s, MAX_TCP_KEEPCNT 127.
  auto seconds = [&](Duration d, const char* name) {
    if (d.count() < 1000 || d.count() > 32767'000 || d.count() % 1000 != 0)
      throw ConfigError(fmt::format("{} {} \"{}\" must be whole seconds from 1s to 32767s", what,
                                    name, format_duration(d)));
  };
  const TcpKeepalive& k = options.keepalive;
  seconds(k.idle, "idle");
  seconds(k.interval, "interval");
  if (k.count < 1 || k.count > 127)
    throw ConfigError(fmt::format("{} count {} must be between 1 and 127", what, k.count));
  if (options.user_timeout.count() < 0 || options.user_timeout.count() > 0x7fffffff)
    throw ConfigError(fmt::format("{} user timeout \"{}\" must be from 0 (off) to 596h", what,
                                  format_duration(options.user_timeout)));
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
  if (config.docker && config.docker->socket.empty())
    throw ConfigError("docker: the socket path is empty (the default is /var/run/docker.sock)");
  std::set<std::string> names;
  std::set<uint16_t> ports;
  for (const Frontend& f : config.frontends) {
    std::string where = fmt::format("frontend \"{}\"", f.name);
    if (f.name.empty())
      throw ConfigError(fmt::format("frontend on {} has no name", format_endpoint(f.bind)));
    if (!valid_utf8(f.name))
      throw ConfigError(
          fmt::format("frontend on {}: its name is not UTF-8", format_endpoint(f.bind)));
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
    if (f.check.type == CheckType::http) {
      try {
        check_http_target(f.check.path, f.check.host);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("{}: {}", where, e.what()));
      }
    }
    if (f.check.status_low < 100 || f.check.status_high > 599 ||
        f.check.status_low > f.check.status_high)
      throw ConfigError(fmt::format("{}: check status {}-{} is not a range within 100-599", where,
                                    f.check.status_low, f.check.status_high));
    if (f.observe_failures < 0 || f.observe_failures > 1000)
      throw ConfigError(fmt::format("{}: observe failures {} must be between 0 (off) and 1000",
                                    where, f.observe_failures));
    check_positive(f.retry_after, "retry_after", where);
    if (f.slowstart.count() < 0)
      throw ConfigError(fmt::format("{}: slowstart must not be negative", where));
    check_positive(f.preread_timeout, "preread_timeout", where);
    check_servers(f.servers, where);
    check_routes(f, where);
    check_positive(f.tls_handshake_timeout, "tls_handshake_timeout", where);
    if (f.server_tls &&
        (f.server_tls->verify.empty() || f.server_tls->cert.empty() != f.server_tls->key.empty()))
      throw ConfigError(
          fmt::format("{}: server_tls needs verify (a CA file or none), and cert with key", where));
    if (f.tls) {
      if (f.tls->certs.empty())
        throw ConfigError(fmt::format("{}: tls without a certificate", where));
      for (const TlsCertificate& c : f.tls->certs)
        if (c.cert.empty() || c.key.empty())
          throw ConfigError(
              fmt::format("{}: tls: every certificate needs both cert and key", where));
      try {
        check_tls_version(f.tls->min_version);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("{}: {}", where, e.what()));
      }
    }
    check_tcp_options(f.client_tcp, where + ": tcp_keepalive");
    check_tcp_options(f.server_tcp, where + ": server_tcp_keepalive");
    validate_admission(f, where);
  }
}

void check_tls_version(const std::string& text) {
  if (text == "1.2" || text == "1.3")
    return;
  if (text == "1.0" || text == "1.1")
    throw ConfigError(fmt::format("min_version \"{}\": TLS 1.0 and 1.1 are refused (write 1.2 "
                                  "or 1.3)",
                                  text));
  throw ConfigError(fmt::format("min_version \"{}\" is not 1.2 or 1.3", text));
}

namespace {

void emit_servers(YAML::Emitter& out, const std::vector<Server>& servers) {
  out << YAML::Key << "servers" << YAML::Value << YAML::BeginSeq;
  for (const Server& s : servers) {
    out << YAML::BeginMap;
    out << YAML::Key << "address" << YAML::Value << YAML::DoubleQuoted
        << format_endpoint(s.address);
    if (s.maxconn)
      out << YAML::Key << "maxconn" << YAML::Value << *s.maxconn;
    out << YAML::Key << "weight" << YAML::Value << s.weight;
    out << YAML::Key << "state" << YAML::Value << state_name(s.state);
    if (!s.name.empty())
      out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << s.name;
    if (s.backup)
      out << YAML::Key << "backup" << YAML::Value << true;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

// tcp_keepalive and tcp_user_timeout of one side, under keys that start with `prefix`.
void emit_tcp(YAML::Emitter& out, const std::string& prefix, const TcpOptions& o) {
  out << YAML::Key << prefix + "tcp_keepalive" << YAML::Value;
  if (o.keepalive.enabled)
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "idle" << YAML::Value
        << format_duration(o.keepalive.idle) << YAML::Key << "interval" << YAML::Value
        << format_duration(o.keepalive.interval) << YAML::Key << "count" << YAML::Value
        << o.keepalive.count << YAML::EndMap;
  else
    out << false;
  out << YAML::Key << prefix + "tcp_user_timeout" << YAML::Value << format_duration(o.user_timeout);
}

} // namespace

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
  if (config.docker) {
    out << YAML::Key << "docker" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "socket" << YAML::Value << YAML::DoubleQuoted << config.docker->socket;
    out << YAML::Key << "network" << YAML::Value << YAML::DoubleQuoted << config.docker->network;
    out << YAML::EndMap;
  }
  out << YAML::Key << "frontends" << YAML::Value << YAML::BeginSeq;
  for (const Frontend& f : config.frontends) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << f.name;
    out << YAML::Key << "bind" << YAML::Value << YAML::DoubleQuoted << format_endpoint(f.bind);
    if (!f.provider.empty())
      out << YAML::Key << "provider" << YAML::Value << f.provider;
    out << YAML::Key << "balance" << YAML::Value << balance_name(f.balance);
    out << YAML::Key << "connect_timeout" << YAML::Value << format_duration(f.connect_timeout);
    out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(f.idle_timeout);
    out << YAML::Key << "retries" << YAML::Value << f.retries;
    out << YAML::Key << "resolve_interval" << YAML::Value << format_duration(f.resolve_interval);
    out << YAML::Key << "dns_hold" << YAML::Value << format_duration(f.dns_hold);
    out << YAML::Key << "check" << YAML::Value << YAML::Flow << YAML::BeginMap;
    if (!f.check.enabled)
      out << YAML::Key << "enabled" << YAML::Value << false;
    out << YAML::Key << "type" << YAML::Value << check_type_name(f.check.type);
    if (f.check.type == CheckType::http) {
      out << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << f.check.path;
      if (!f.check.host.empty())
        out << YAML::Key << "host" << YAML::Value << YAML::DoubleQuoted << f.check.host;
      out << YAML::Key << "status" << YAML::Value << YAML::DoubleQuoted
          << (f.check.status_low == f.check.status_high
                  ? std::to_string(f.check.status_low)
                  : fmt::format("{}-{}", f.check.status_low, f.check.status_high));
    }
    out << YAML::Key << "interval" << YAML::Value << format_duration(f.check.interval);
    out << YAML::Key << "timeout" << YAML::Value << format_duration(f.check.timeout);
    out << YAML::Key << "rise" << YAML::Value << f.check.rise;
    out << YAML::Key << "fall" << YAML::Value << f.check.fall;
    out << YAML::EndMap;
    out << YAML::Key << "observe" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
        << "failures" << YAML::Value << f.observe_failures << YAML::EndMap;
    out << YAML::Key << "retry_after" << YAML::Value << format_duration(f.retry_after);
    out << YAML::Key << "slowstart" << YAML::Value << format_duration(f.slowstart);
    if (f.proxy_from.cidrs.empty()) {
      out << YAML::Key << "accept_proxy" << YAML::Value << f.accept_proxy;
    } else {
      out << YAML::Key << "accept_proxy" << YAML::Value << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "from" << YAML::Value << YAML::BeginSeq;
      for (const Cidr& c : f.proxy_from.cidrs)
        out << YAML::DoubleQuoted << format_cidr(c);
      out << YAML::EndSeq << YAML::Key << "optional" << YAML::Value << f.proxy_optional;
      out << YAML::EndMap;
    }
    emit_admission(out, f);
    out << YAML::Key << "preread_timeout" << YAML::Value << format_duration(f.preread_timeout);
    out << YAML::Key << "send_proxy" << YAML::Value << proxy_protocol_name(f.send_proxy);
    if (f.tls) {
      out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "certs" << YAML::Value << YAML::BeginSeq;
      for (const TlsCertificate& c : f.tls->certs)
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "cert" << YAML::Value
            << YAML::DoubleQuoted << c.cert << YAML::Key << "key" << YAML::Value
            << YAML::DoubleQuoted << c.key << YAML::EndMap;
      out << YAML::EndSeq;
      if (!f.tls->alpn.empty()) {
        out << YAML::Key << "alpn" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& p : f.tls->alpn)
          out << YAML::DoubleQuoted << p;
        out << YAML::EndSeq;
      }
      out << YAML::Key << "min_version" << YAML::Value << YAML::DoubleQuoted << f.tls->min_version;
      if (!f.tls->client_ca.empty())
        out << YAML::Key << "client_ca" << YAML::Value << YAML::DoubleQuoted << f.tls->client_ca;
      out << YAML::EndMap;
    }
    if (f.tls || f.tls_handshake_timeout != Frontend{}.tls_handshake_timeout)
      out << YAML::Key << "tls_handshake_timeout" << YAML::Value
          << format_duration(f.tls_handshake_timeout);
    if (f.server_tls)
      emit_server_tls(out, *f.server_tls);
    emit_tcp(out, "", f.client_tcp);
    emit_tcp(out, "server_", f.server_tcp);
    out << YAML::Key << "allbackups" << YAML::Value << f.allbackups;
    emit_servers(out, f.servers);
    if (!f.routes.empty()) {
      out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
      for (const Route& r : f.routes) {
        out << YAML::BeginMap;
        out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << r.name;
        out << YAML::Key << "sni" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& p : r.sni)
          out << YAML::DoubleQuoted << p;
        out << YAML::EndSeq;
        out << YAML::Key << "send_proxy" << YAML::Value << proxy_protocol_name(r.send_proxy);
        if (r.server_tls)
          emit_server_tls(out, *r.server_tls);
        emit_servers(out, r.servers);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

} // namespace hamba::config
