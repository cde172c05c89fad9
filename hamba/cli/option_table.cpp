// The options' table and their value parsers (see option_table.h).
#include "cli/option_table.h"

#include <charconv>
#include <filesystem>
#include <fmt/format.h>

namespace hamba::cli {

namespace {

config::Duration duration_value(const std::string& name, const std::string& value) {
  try {
    return config::parse_duration(value);
  } catch (const config::ConfigError&) {
    throw UsageError(
        fmt::format("{} \"{}\" is not a duration (write 250ms, 5s, 2m or 1h)", name, value));
  }
}

int count_value(const std::string& name, const std::string& value, int minimum,
                int maximum = 1 << 30) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size())
    throw UsageError(fmt::format("{} \"{}\" is not a number", name, value));
  if (n < minimum)
    throw UsageError(fmt::format("{} \"{}\" must be at least {}", name, value, minimum));
  if (n > maximum)
    throw UsageError(fmt::format("{} \"{}\" must be at most {}", name, value, maximum));
  return n;
}

config::Balance balance_value(const std::string& name, const std::string& value) {
  try {
    return config::parse_balance(value);
  } catch (const config::ConfigError&) {
    throw UsageError(
        fmt::format("{} \"{}\" is not a balance algorithm (roundrobin, leastconn, source or first)",
                    name, value));
  }
}

// tcp, redis, http or http:/PATH.
std::string check_value(const std::string& name, const std::string& value) {
  config::HealthCheck check;
  try {
    config::parse_check_word(value, check);
  } catch (const config::ConfigError& e) {
    throw UsageError(
        fmt::format("{} \"{}\": {} (write tcp, redis, http or http:/PATH)", name, value, e.what()));
  }
  return value;
}

std::string endpoint_value(const std::string& name, const std::string& value) {
  try {
    config::parse_endpoint(value);
  } catch (const config::ConfigError& e) {
    throw UsageError(fmt::format("{}: {}", name, e.what()));
  }
  return value;
}

std::string log_format_value(const std::string& name, const std::string& value) {
  if (value != "text" && value != "json" && value != "off")
    throw UsageError(fmt::format("{} \"{}\" is not a log format (text, json or off)", name, value));
  return value;
}

config::ProxyProtocol proxy_version_value(const std::string& name, const std::string& value) {
  if (value == "v1")
    return config::ProxyProtocol::v1;
  if (value == "v2")
    return config::ProxyProtocol::v2;
  if (value == "none")
    return config::ProxyProtocol::none;
  throw UsageError(
      fmt::format("{} \"{}\" is not a PROXY protocol version (v1, v2 or none)", name, value));
}

// on, off, or IDLE[,INTERVAL[,COUNT]], with the kernel's bounds.
config::TcpKeepalive keepalive_value(const std::string& name, const std::string& value) {
  config::TcpOptions o;
  try {
    o.keepalive = config::parse_tcp_keepalive(value);
  } catch (const config::ConfigError& e) {
    throw UsageError(fmt::format("{}: {}", name, e.what()));
  }
  try {
    config::check_tcp_options(o, name);
  } catch (const config::ConfigError& e) {
    throw UsageError(e.what());
  }
  return o.keepalive;
}

config::Duration user_timeout_value(const std::string& name, const std::string& value) {
  config::TcpOptions o;
  o.user_timeout = duration_value(name, value);
  try {
    config::check_tcp_options(o, name);
  } catch (const config::ConfigError& e) {
    throw UsageError(e.what());
  }
  return o.user_timeout;
}

bool boolean_value(const std::string& name, const std::string& value) {
  if (value == "true" || value == "yes" || value == "1")
    return true;
  if (value == "false" || value == "no" || value == "0")
    return false;
  throw UsageError(fmt::format("{} \"{}\" is neither true nor false", name, value));
}

// --docker's value: the Engine API's socket path, or a yes/no (HAMBA_DOCKER=1 takes the
// default socket). Returns the path, or "" for no.
std::string docker_value(const std::string& name, const std::string& value) {
  if (!value.empty() && value.front() == '/')
    return value;
  if (value == "true" || value == "yes" || value == "1")
    return config::Docker{}.socket;
  if (value == "false" || value == "no" || value == "0")
    return {};
  throw UsageError(fmt::format(
      "{} \"{}\" is neither a socket path (/var/run/docker.sock) nor true or false", name, value));
}

// "10.0.0.0/8" or "10.0.0.0/8,2001:db8::/32" (a variable holds several, comma-separated).
std::vector<config::Cidr> cidrs_value(const std::string& name, const std::string& value) {
  std::vector<config::Cidr> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string word = value.substr(start, comma == std::string::npos ? comma : comma - start);
    try {
      out.push_back(config::parse_cidr_word(word));
    } catch (const config::ConfigError& e) {
      throw UsageError(fmt::format("{}: {}", name, e.what()));
    }
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

std::string file_value(const std::string& name, const std::string& value) {
  if (value.empty())
    throw UsageError(fmt::format("{}: the path is empty", name));
  std::error_code ec;
  auto absolute = std::filesystem::absolute(value, ec); // the same file after a reconfigure
  return ec ? value : absolute.lexically_normal().string();
}

void rate_value(const std::string& name, const std::string& value, config::PerSource& p) {
  try {
    config::parse_rate(value, p.rate_count, p.rate_window);
  } catch (const config::ConfigError& e) {
    throw UsageError(fmt::format("{}: {}", name, e.what()));
  }
}

using S = const std::string&;
using Config = config::Config;

// Sets one field in every frontend of `config`.
template <typename Set> void each_frontend(Config& config, Set set) {
  for (config::Frontend& f : config.frontends)
    set(f);
}

// Sets one field in every server of every frontend and route of `config`.
template <typename Set> void each_server(Config& config, Set set) {
  each_frontend(config, [&](config::Frontend& f) {
    for (config::Server& s : f.servers)
      set(s);
    for (config::Route& r : f.routes)
      for (config::Server& s : r.servers)
        set(s);
  });
}

// The frontend's first certificate (created with its TLS settings): --tls-cert and --tls-key
// replace it, whatever the file said.
config::TlsCertificate& default_certificate(config::Frontend& f) {
  if (!f.tls)
    f.tls.emplace();
  if (f.tls->certs.empty())
    f.tls->certs.emplace_back();
  return f.tls->certs.front();
}

// `set` checks a value and `apply` sets it; `apply` parses again what `set` has accepted, so it
// cannot throw.
const OptionSpec table[] = {
    {"--connect-timeout", "HAMBA_CONNECT_TIMEOUT", nullptr, "D",
     "server connect timeout (default 5s)", [](Command&, S n, S v) { duration_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.connect_timeout = duration_value("", v); });
     }},
    {"--idle-timeout", "HAMBA_IDLE_TIMEOUT", nullptr, "D",
     "close connections idle that long (default 50s)",
     [](Command&, S n, S v) { duration_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.idle_timeout = duration_value("", v); });
     }},
    {"--check-interval", "HAMBA_CHECK_INTERVAL", nullptr, "D", "health check interval (default 2s)",
     [](Command&, S n, S v) { duration_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.check.interval = duration_value("", v); });
     }},
    {"--resolve-interval", "HAMBA_RESOLVE_INTERVAL", nullptr, "D",
     "server names resolved again (default 5s)", [](Command&, S n, S v) { duration_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.resolve_interval = duration_value("", v); });
     }},
    {"--dns-hold", "HAMBA_DNS_HOLD", nullptr, "D",
     "a name gone from DNS keeps its servers that long\n(default 30s; resolver failures keep "
     "them always)",
     [](Command&, S n, S v) { duration_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.dns_hold = duration_value("", v); });
     }},
    {"--maxconn", "HAMBA_MAXCONN", nullptr, "N",
     "connections in all; more wait to be accepted\n(default: from the file-descriptor limit)",
     [](Command&, S n, S v) { count_value(n, v, 1); },
     [](Config& c, S v) { c.maxconn = count_value("", v, 1); }},
    {"--server-maxconn", "HAMBA_SERVER_MAXCONN", nullptr, "N",
     "connections per server; more are queued\n(default: no limit)",
     [](Command&, S n, S v) { count_value(n, v, 1); },
     [](Config& c, S v) { each_server(c, [&](auto& s) { s.maxconn = count_value("", v, 1); }); }},
    {"--threads", "HAMBA_THREADS", nullptr, "N", "worker loops (default: the CPUs it may use)",
     [](Command&, S n, S v) { count_value(n, v, 1, config::kMaxThreads); },
     [](Config& c, S v) { c.threads = count_value("", v, 1, config::kMaxThreads); }},
    {"--check", "HAMBA_CHECK", nullptr, "TYPE",
     "tcp (connect, default), http[:/PATH] (status\n200-399), redis (PING, expects +PONG)",
     [](Command&, S n, S v) { check_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { config::parse_check_word(v, f.check); });
     }},
    {"--balance", "HAMBA_BALANCE", nullptr, "ALGO",
     "roundrobin (default), leastconn, source or first",
     [](Command&, S n, S v) { balance_value(n, v); },
     [](Config& c, S v) { each_frontend(c, [&](auto& f) { f.balance = balance_value("", v); }); }},
    {"--retries", "HAMBA_RETRIES", nullptr, "N", "other servers tried when a connect fails (3)",
     [](Command&, S n, S v) { count_value(n, v, 0); },
     [](Config& c, S v) { each_frontend(c, [&](auto& f) { f.retries = count_value("", v, 0); }); }},
    {"--tcp-keepalive", "HAMBA_TCP_KEEPALIVE", nullptr, "K",
     "keepalive toward clients: on, off (default) or\nIDLE[,INTERVAL[,COUNT]] (on: 60s,15s,4)",
     [](Command&, S n, S v) { keepalive_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.client_tcp.keepalive = keepalive_value("", v); });
     }},
    {"--server-tcp-keepalive", "HAMBA_SERVER_TCP_KEEPALIVE", nullptr, "K",
     "keepalive toward servers (default 60s,15s,4; off)",
     [](Command&, S n, S v) { keepalive_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.server_tcp.keepalive = keepalive_value("", v); });
     }},
    {"--tcp-user-timeout", "HAMBA_TCP_USER_TIMEOUT", nullptr, "D",
     "clients' unacknowledged data kept at most D (0: off)",
     [](Command&, S n, S v) { user_timeout_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.client_tcp.user_timeout = user_timeout_value("", v); });
     }},
    {"--server-tcp-user-timeout", "HAMBA_SERVER_TCP_USER_TIMEOUT", nullptr, "D",
     "the same toward servers (default 0: off)",
     [](Command&, S n, S v) { user_timeout_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.server_tcp.user_timeout = user_timeout_value("", v); });
     }},
    {"--grace", "HAMBA_GRACE", nullptr, "D", "on SIGTERM, time given to connections (5s)",
     [](Command&, S n, S v) { duration_value(n, v); },
     [](Config& c, S v) { c.grace = duration_value("", v); }},
    {"--admin", "HAMBA_ADMIN", "ADMIN", "ADDR:PORT", "serve the stats page and /metrics there",
     [](Command&, S n, S v) { endpoint_value(n, v); }, [](Config& c, S v) { c.admin = v; }},
    {"--control", "HAMBA_CONTROL", nullptr, "PATH", "control socket of the running hamba",
     [](Command& c, S, S v) { c.control_path = v; }, nullptr},
    {"--config", "HAMBA_CONFIG", nullptr, "FILE",
     "read the configuration from a YAML file (repeatable)",
     [](Command& c, S, S v) { c.config_files.push_back(v); }, nullptr},
    {"--log-connections", "HAMBA_LOG_CONNECTIONS", nullptr, "F",
     "one log line per connection: text, json or off",
     [](Command& c, S n, S v) { c.log_connections = log_format_value(n, v); }, nullptr},
    {"--send-proxy", "HAMBA_SEND_PROXY", nullptr, "V", "PROXY protocol header to servers: v1 or v2",
     [](Command&, S n, S v) { proxy_version_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) {
         f.send_proxy = proxy_version_value("", v);
         for (config::Route& r : f.routes)
           r.send_proxy = f.send_proxy;
       });
     }},
    {"--tls-cert", "HAMBA_TLS_CERT", nullptr, "FILE",
     "terminate TLS with this PEM certificate (and chain);\nneeds --tls-key", [](Command&, S, S) {},
     [](Config& c, S v) { each_frontend(c, [&](auto& f) { default_certificate(f).cert = v; }); }},
    {"--tls-key", "HAMBA_TLS_KEY", nullptr, "FILE", "the PEM private key of --tls-cert",
     [](Command&, S, S) {},
     [](Config& c, S v) { each_frontend(c, [&](auto& f) { default_certificate(f).key = v; }); }},
    {"--tls-handshake-timeout", "HAMBA_TLS_HANDSHAKE_TIMEOUT", nullptr, "D",
     "TLS clients have that long to finish the handshake (10s)",
     [](Command&, S n, S v) { duration_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.tls_handshake_timeout = duration_value("", v); });
     }},
    {"--docker", "HAMBA_DOCKER", nullptr, "[SOCKET]",
     "frontends and servers from containers' hamba.*\nlabels, followed live (docs/docker.md;\n"
     "default socket /var/run/docker.sock)",
     [](Command&, S n, S v) { docker_value(n, v); },
     [](Config& c, S v) {
       std::string socket = docker_value("", v);
       if (socket.empty()) {
         c.docker.reset();
         return;
       }
       config::Docker d = c.docker.value_or(config::Docker{});
       d.socket = socket;
       c.docker = d;
     },
     "/var/run/docker.sock"},
    {"--accept-proxy", "HAMBA_ACCEPT_PROXY", nullptr, "",
     "clients start with a PROXY v1/v2 header (true)",
     [](Command&, S n, S v) { boolean_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.accept_proxy = boolean_value("", v); });
     },
     "true"},
    {"--accept-proxy-from", "HAMBA_ACCEPT_PROXY_FROM", nullptr, "CIDR",
     "read a PROXY header only from these senders, refuse\nothers (repeatable; turns "
     "--accept-proxy on)",
     [](Command&, S n, S v) { cidrs_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) {
         f.accept_proxy = true;
         for (const config::Cidr& x : cidrs_value("", v))
           f.proxy_from.cidrs.push_back(x);
       });
     }},
    {"--allow", "HAMBA_ALLOW", nullptr, "CIDR",
     "accept clients from CIDR only (repeatable; the\nvariable takes a comma-separated list)",
     [](Command&, S n, S v) { cidrs_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) {
         for (const config::Cidr& x : cidrs_value("", v))
           f.allow.cidrs.push_back(x);
       });
     }},
    {"--deny", "HAMBA_DENY", nullptr, "CIDR",
     "refuse clients from CIDR (repeatable; wins over allow)",
     [](Command&, S n, S v) { cidrs_value(n, v); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) {
         for (const config::Cidr& x : cidrs_value("", v))
           f.deny.cidrs.push_back(x);
       });
     }},
    {"--allow-file", "HAMBA_ALLOW_FILE", nullptr, "FILE",
     "more CIDRs to allow, one a line (read again on reload)",
     [](Command&, S n, S v) { file_value(n, v); },
     [](Config& c, S v) { each_frontend(c, [&](auto& f) { f.allow.file = file_value("", v); }); }},
    {"--deny-file", "HAMBA_DENY_FILE", nullptr, "FILE",
     "more CIDRs to refuse, one a line (read again on reload)",
     [](Command&, S n, S v) { file_value(n, v); },
     [](Config& c, S v) { each_frontend(c, [&](auto& f) { f.deny.file = file_value("", v); }); }},
    {"--per-source-maxconn", "HAMBA_PER_SOURCE_MAXCONN", nullptr, "N",
     "connections open at once per client address\n(default: no limit)",
     [](Command&, S n, S v) { count_value(n, v, 1, 1 << 20); },
     [](Config& c, S v) {
       each_frontend(c, [&](auto& f) { f.per_source.maxconn = count_value("", v, 1, 1 << 20); });
     }},
    {"--per-source-rate", "HAMBA_PER_SOURCE_RATE", nullptr, "N/D",
     "new connections per client address per window\n(20/1s; default: no limit)",
     [](Command&, S n, S v) {
       config::PerSource p;
       rate_value(n, v, p);
     },
     [](Config& c, S v) { each_frontend(c, [&](auto& f) { rate_value("", v, f.per_source); }); }},
};

} // namespace

std::span<const OptionSpec> option_table() {
  return table;
}

const OptionSpec* find_option(const std::string& flag) {
  for (const OptionSpec& spec : table)
    if (flag == spec.flag)
      return &spec;
  return nullptr;
}

} // namespace hamba::cli
