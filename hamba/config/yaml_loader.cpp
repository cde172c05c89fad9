// Reads the YAML form of the configuration (the schema is in config.h) into a config::Config.
//
// Strict on purpose: an unknown or repeated key, a value of the wrong type or a bad word is an
// error that names the source, the line and the column ("hamba.yaml:7:14: unknown key
// 'conect_timeout' in frontend"), because a typo silently ignored is a setting silently lost.
// What cannot be checked per value (duplicate binds, limits across frontends) is left to
// config::validate(), the one place that checks a whole Config.
#include "base/log.h"
#include "config/config.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <yaml-cpp/yaml.h>

namespace hamba::config {
namespace {

// Where a node is, as "origin:line:col" (yaml-cpp counts from 0, editors from 1).
std::string where(const std::string& origin, const YAML::Mark& mark) {
  if (mark.is_null())
    return origin;
  return origin + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// Walks one document; every error it throws carries the position of the offending node.
class Reader {
public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
    throw ConfigError(where(origin_, node.Mark()) + ": " + message);
  }

  // Runs `f` and prefixes a ConfigError it throws (e.g. from parse_duration) with node's place.
  template <typename T> T at(const YAML::Node& node, const std::function<T()>& f) const {
    try {
      return f();
    } catch (const ConfigError& e) {
      fail(node, e.what());
    }
  }

  std::string scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar())
      fail(node, key + ": expected a single value, got " + kind(node));
    return node.Scalar();
  }

  int integer(const YAML::Node& node, const std::string& key) const {
    std::string text = scalar(node, key);
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
      fail(node, key + ": '" + text + "' is not a whole number");
    return value;
  }

  bool boolean(const YAML::Node& node, const std::string& key) const {
    std::string text = scalar(node, key);
    bool value = false;
    if (!YAML::convert<bool>::decode(node, value))
      fail(node, key + ": '" + text + "' is not true or false");
    return value;
  }

  Duration duration(const YAML::Node& node, const std::string& key) const {
    std::string text = scalar(node, key);
    return at<Duration>(node, [&] { return parse_duration(text); });
  }

  Endpoint endpoint(const YAML::Node& node, const std::string& key) const {
    std::string text = scalar(node, key);
    return at<Endpoint>(node, [&] { return parse_endpoint(text); });
  }

  // Calls handlers[key](value) for every key of the map `node`; unknown and repeated keys are
  // errors naming the key and `what` the map is.
  void
  each_key(const YAML::Node& node, const std::string& what,
           const std::map<std::string, std::function<void(const YAML::Node&)>>& handlers) const {
    if (!node.IsMap())
      fail(node, what + ": expected a mapping (key: value), got " + kind(node));
    std::set<std::string> seen;
    for (const auto& item : node) {
      std::string key = scalar(item.first, what + " key");
      auto handler = handlers.find(key);
      if (handler == handlers.end())
        fail(item.first,
             "unknown key '" + key + "' in " + what + " (known: " + known(handlers) + ")");
      if (!seen.insert(key).second)
        fail(item.first, "key '" + key + "' given twice in " + what);
      handler->second(item.second);
    }
  }

  Config config(const YAML::Node& root) {
    Config config;
    if (root.IsNull())
      return config; // an empty file: no frontends, as `hamba run` with no config
    each_key(root, "configuration",
             {
                 {"maxconn", [&](auto& n) { config.maxconn = integer(n, "maxconn"); }},
                 {"threads", [&](auto& n) { config.threads = threads(n); }},
                 {"grace", [&](auto& n) { config.grace = duration(n, "grace"); }},
                 {"admin", [&](auto& n) { config.admin = admin(n); }},
                 {"docker", [&](auto& n) { config.docker = docker(n); }},
                 {"frontends",
                  [&](auto& n) {
                    for (const auto& f : sequence(n, "frontends"))
                      config.frontends.push_back(frontend(f));
                  }},
             });
    return config;
  }

private:
  static std::string kind(const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined value";
    }
  }

  template <typename Map> static std::string known(const Map& handlers) {
    std::string names;
    for (const auto& [name, handler] : handlers)
      names += (names.empty() ? "" : ", ") + name;
    return names;
  }

  std::vector<YAML::Node> sequence(const YAML::Node& node, const std::string& key) const {
    if (node.IsNull())
      return {};
    if (!node.IsSequence())
      fail(node, key + ": expected a list, got " + kind(node));
    std::vector<YAML::Node> items;
    for (const auto& item : node)
      items.push_back(item);
    return items;
  }

  int threads(const YAML::Node& node) const {
    int n = integer(node, "threads");
    if (n < 1 || n > kMaxThreads)
      fail(node, fmt::format("threads: {} must be between 1 and {}", n, kMaxThreads));
    return n;
  }

  std::string admin(const YAML::Node& node) const {
    if (node.IsNull())
      return {};
    std::string text = scalar(node, "admin");
    if (!text.empty())
      endpoint(node, "admin"); // checked here so that the error has a line; kept as written
    return text;
  }

  // `docker: {socket: PATH, network: NAME}`; `docker: true` (or an empty mapping) takes the
  // defaults, `docker: false` none.
  std::optional<Docker> docker(const YAML::Node& node) const {
    Docker d;
    if (node.IsNull())
      return d;
    if (node.IsScalar())
      return boolean(node, "docker") ? std::optional<Docker>(d) : std::nullopt;
    each_key(node, "docker",
             {
                 {"socket",
                  [&](auto& n) {
                    d.socket = scalar(n, "socket");
                    if (d.socket.empty())
                      fail(n, "docker socket: an empty path");
                  }},
                 {"network", [&](auto& n) { d.network = scalar(n, "network"); }},
             });
    return d;
  }

  Frontend frontend(const YAML::Node& node) const {
    Frontend f;
    bool named = false;
    auto tcp_key = [&](const char* key) { return [&, key](auto& n) { tcp(n, key, f); }; };
    each_key(node, "frontend",
             {
                 {"name",
                  [&](auto& n) {
                    f.name = scalar(n, "name");
                    named = true;
                  }},
                 {"bind", [&](auto& n) { f.bind = endpoint(n, "bind"); }},
                 {"provider",
                  [&](auto& n) {
                    f.provider = scalar(n, "provider");
                    if (f.provider != "docker")
                      fail(n, "provider: '" + f.provider + "' is not one (docker)");
                  }},
                 {"balance", [&](auto& n) { f.balance = balance(n); }},
                 {"connect_timeout",
                  [&](auto& n) { f.connect_timeout = duration(n, "connect_timeout"); }},
                 {"idle_timeout", [&](auto& n) { f.idle_timeout = duration(n, "idle_timeout"); }},
                 {"retries", [&](auto& n) { f.retries = integer(n, "retries"); }},
                 {"resolve_interval",
                  [&](auto& n) { f.resolve_interval = duration(n, "resolve_interval"); }},
                 {"dns_hold", [&](auto& n) { f.dns_hold = duration(n, "dns_hold"); }},
                 {"tcp_keepalive", tcp_key("tcp_keepalive")},
                 {"tcp_user_timeout", tcp_key("tcp_user_timeout")},
                 {"server_tcp_keepalive", tcp_key("server_tcp_keepalive")},
                 {"server_tcp_user_timeout", tcp_key("server_tcp_user_timeout")},
                 {"allbackups", [&](auto& n) { f.allbackups = boolean(n, "allbackups"); }},
                 {"check", [&](auto& n) { f.check = check(n); }},
                 {"observe", [&](auto& n) { f.observe_failures = observe(n); }},
                 {"retry_after", [&](auto& n) { f.retry_after = duration(n, "retry_after"); }},
                 {"slowstart", [&](auto& n) { f.slowstart = duration(n, "slowstart"); }},
                 {"accept_proxy", [&](auto& n) { accept_proxy(n, f); }},
                 {"allow", [&](auto& n) { f.allow.cidrs = cidrs(n, "allow"); }},
                 {"deny", [&](auto& n) { f.deny.cidrs = cidrs(n, "deny"); }},
                 {"allow_file", [&](auto& n) { f.allow.file = list_file(n, "allow_file"); }},
                 {"deny_file", [&](auto& n) { f.deny.file = list_file(n, "deny_file"); }},
                 {"per_source", [&](auto& n) { f.per_source = per_source(n); }},
                 {"preread_timeout",
                  [&](auto& n) { f.preread_timeout = duration(n, "preread_timeout"); }},
                 {"send_proxy", [&](auto& n) { f.send_proxy = proxy_protocol(n); }},
                 {"routes",
                  [&](auto& n) {
                    for (const auto& r : sequence(n, "routes"))
                      f.routes.push_back(route(r));
                  }},
                 {"tls", [&](auto& n) { f.tls = tls(n); }},
                 {"server_tls", [&](auto& n) { f.server_tls = server_tls(n); }},
                 {"tls_handshake_timeout",
                  [&](auto& n) { f.tls_handshake_timeout = duration(n, "tls_handshake_timeout"); }},
                 {"servers", [&](auto& n) { servers(n, "servers", f.servers); }},
                 {"backends",
                  [&](auto& n) {
                    note_old_word(n);
                    servers(n, "backends", f.servers);
                  }},
             });
    if (node["servers"] && node["backends"])
      fail(node["backends"], "both 'servers' and 'backends' (the old word for it): keep 'servers'");
    if (!node["bind"])
      fail(node,
           "frontend without 'bind' (the address and port it listens on, e.g. \"0.0.0.0:80\")");
    if (!named)
      f.name = std::to_string(f.bind.port);
    return f;
  }

  Balance balance(const YAML::Node& node) const {
    std::string text = scalar(node, "balance");
    return at<Balance>(node, [&] { return parse_balance(text); });
  }

  HealthCheck check(const YAML::Node& node) const {
    HealthCheck c;
    if (node.IsScalar()) { // "check: false" turns checks off, "check: true" keeps the defaults
      c.enabled = boolean(node, "check");
      return c;
    }
    each_key(node, "check",
             {
                 {"enabled", [&](auto& n) { c.enabled = boolean(n, "enabled"); }},
                 {"type",
                  [&](auto& n) {
                    std::string text = scalar(n, "type");
                    c.type = at<CheckType>(n, [&] { return parse_check_type(text); });
                  }},
                 {"path", [&](auto& n) { c.path = scalar(n, "path"); }},
                 {"host", [&](auto& n) { c.host = scalar(n, "host"); }},
                 {"status",
                  [&](auto& n) {
                    std::string text = scalar(n, "status");
                    at<int>(n, [&] {
                      parse_status_range(text, c.status_low, c.status_high);
                      return 0;
                    });
                  }},
                 {"interval", [&](auto& n) { c.interval = duration(n, "interval"); }},
                 {"timeout", [&](auto& n) { c.timeout = duration(n, "timeout"); }},
                 {"rise", [&](auto& n) { c.rise = integer(n, "rise"); }},
                 {"fall", [&](auto& n) { c.fall = integer(n, "fall"); }},
             });
    // Checked here too (validate() does it again) so that the error names the line.
    if ((node["path"] || node["host"] || node["status"]) && c.type != CheckType::http)
      fail(node, "check: path, host and status are for type: http");
    const YAML::Node& at_node = node["path"] ? node["path"] : node["host"] ? node["host"] : node;
    at<int>(at_node, [&] {
      check_http_target(c.path, c.host);
      return 0;
    });
    return c;
  }

  int observe(const YAML::Node& node) const {
    if (node.IsScalar()) // "observe: false" turns passive health off
      return boolean(node, "observe") ? 3 : 0;
    int failures = 3;
    each_key(node, "observe", {{"failures", [&](auto& n) {
                                  failures = integer(n, "failures");
                                  if (failures < 0 || failures > 1000)
                                    fail(n, "observe failures " + std::to_string(failures) +
                                                " must be between 0 (off) and 1000");
                                }}});
    return failures;
  }

  void servers(const YAML::Node& node, const std::string& key, std::vector<Server>& out) const {
    for (const auto& s : sequence(node, key))
      out.push_back(server(s));
  }

  ProxyProtocol proxy_protocol(const YAML::Node& node) const {
    std::string text = scalar(node, "send_proxy");
    return at<ProxyProtocol>(node, [&] { return parse_proxy_protocol(text); });
  }

  TlsCertificate certificate(const YAML::Node& node, const std::string& what) const {
    TlsCertificate c;
    each_key(node, what,
             {
                 {"cert", [&](auto& n) { c.cert = scalar(n, "cert"); }},
                 {"key", [&](auto& n) { c.key = scalar(n, "key"); }},
             });
    if (c.cert.empty() || c.key.empty())
      fail(node, what + ": both 'cert' and 'key' (PEM files) are needed");
    return c;
  }

  FrontendTls tls(const YAML::Node& node) const {
    FrontendTls t;
    if (!node.IsMap())
      fail(node,
           "tls: expected a mapping (cert, key, certs, alpn, min_version), got " + kind(node));
    TlsCertificate own;
    each_key(node, "tls",
             {
                 {"cert", [&](auto& n) { own.cert = scalar(n, "cert"); }},
                 {"key", [&](auto& n) { own.key = scalar(n, "key"); }},
                 {"certs",
                  [&](auto& n) {
                    for (const auto& c : sequence(n, "certs"))
                      t.certs.push_back(certificate(c, "tls certs"));
                  }},
                 {"alpn",
                  [&](auto& n) {
                    for (const auto& a : sequence(n, "alpn")) {
                      std::string p = scalar(a, "alpn");
                      if (p.empty() || p.size() > 255)
                        fail(a, "alpn: a protocol name is 1 to 255 bytes");
                      t.alpn.push_back(p);
                    }
                  }},
                 {"client_ca", [&](auto& n) { t.client_ca = scalar(n, "client_ca"); }},
                 {"min_version",
                  [&](auto& n) {
                    t.min_version = scalar(n, "min_version");
                    at<int>(n, [&] {
                      check_tls_version(t.min_version);
                      return 0;
                    });
                  }},
             });
    if (!own.cert.empty() || !own.key.empty()) { // the default certificate, before `certs`
      if (own.cert.empty() || own.key.empty())
        fail(node, "tls: both 'cert' and 'key' (PEM files) are needed");
      t.certs.insert(t.certs.begin(), own);
    }
    if (t.certs.empty())
      fail(node, "tls: no certificate (write cert: FILE and key: FILE)");
    return t;
  }

  ServerTls server_tls(const YAML::Node& node) const {
    ServerTls t;
    each_key(node, "server_tls",
             {
                 {"verify", [&](auto& n) { t.verify = scalar(n, "verify"); }},
                 {"sni", [&](auto& n) { t.sni = scalar(n, "sni"); }},
                 {"cert", [&](auto& n) { t.cert = scalar(n, "cert"); }},
                 {"key", [&](auto& n) { t.key = scalar(n, "key"); }},
             });
    if (t.verify.empty())
      fail(node, "server_tls: 'verify' is needed (a CA bundle file, or none)");
    if (t.cert.empty() != t.key.empty())
      fail(node, "server_tls: 'cert' and 'key' go together");
    return t;
  }

  Route route(const YAML::Node& node) const {
    Route r;
    bool named = false;
    each_key(node, "route",
             {
                 {"name",
                  [&](auto& n) {
                    r.name = scalar(n, "name");
                    named = true;
                  }},
                 {"sni",
                  [&](auto& n) {
                    auto one = [&](const YAML::Node& item) {
                      std::string text = scalar(item, "sni");
                      r.sni.push_back(
                          at<std::string>(item, [&] { return parse_sni_pattern(text); }));
                    };
                    if (n.IsScalar())
                      one(n);
                    else
                      for (const auto& item : sequence(n, "sni"))
                        one(item);
                  }},
                 {"send_proxy", [&](auto& n) { r.send_proxy = proxy_protocol(n); }},
                 {"server_tls", [&](auto& n) { r.server_tls = server_tls(n); }},
                 {"servers", [&](auto& n) { servers(n, "servers", r.servers); }},
             });
    if (r.sni.empty())
      fail(node, "route without 'sni' (the TLS server names it takes, e.g. [a.example.com])");
    if (r.servers.empty())
      fail(node, "route without 'servers' (HOST:PORT list)");
    if (!named)
      r.name = r.sni.front();
    return r;
  }

  Server server(const YAML::Node& node) const {
    Server s;
    if (node.IsScalar()) { // "- rng1:80", the short form
      s.address = endpoint(node, "server");
      return s;
    }
    each_key(node, "server",
             {
                 {"address", [&](auto& n) { s.address = endpoint(n, "address"); }},
                 {"maxconn", [&](auto& n) { s.maxconn = integer(n, "maxconn"); }},
                 {"state", [&](auto& n) { s.state = state(n); }},
                 {"name", [&](auto& n) { s.name = scalar(n, "name"); }},
                 {"backup", [&](auto& n) { s.backup = boolean(n, "backup"); }},
                 {"weight",
                  [&](auto& n) {
                    s.weight = integer(n, "weight");
                    if (s.weight < 1 || s.weight > 256)
                      fail(n, "weight " + std::to_string(s.weight) + " must be between 1 and 256");
                  }},
             });
    if (!node["address"])
      fail(node, "server without 'address' (HOST:PORT)");
    return s;
  }

  // `backends:` is what the servers were called before; such files keep loading, and the
  // first use in a document is reported once (the file may name it in every frontend).
  void note_old_word(const YAML::Node& node) const {
    if (old_word_noted_)
      return;
    old_word_noted_ = true;
    log::warn("{}: 'backends' is the old name of 'servers'; it still works, rename it",
              where(origin_, node.Mark()));
  }

  ServerState state(const YAML::Node& node) const {
    std::string text = scalar(node, "state");
    if (text == "enabled")
      return ServerState::enabled;
    if (text == "disabled")
      return ServerState::disabled;
    if (text == "drain")
      return ServerState::drain;
    fail(node, "state: unknown state '" + text + "' (enabled, disabled or drain)");
  }

  // One of the frontend's TCP options, `key`: [server_]tcp_keepalive or [server_]tcp_user_timeout.
  void tcp(const YAML::Node& node, const std::string& key, Frontend& f) const {
    TcpOptions& side = key.starts_with("server_") ? f.server_tcp : f.client_tcp;
    if (key.ends_with("keepalive"))
      side.keepalive = keepalive(node, key);
    else
      side.user_timeout = user_timeout(node, key);
  }

  // "true" (the default figures), "false", or {idle, interval, count}; each figure is checked
  // here so that the error names its line.
  TcpKeepalive keepalive(const YAML::Node& node, const std::string& key) const {
    TcpKeepalive k;
    if (node.IsScalar()) {
      k.enabled = boolean(node, key);
      return k;
    }
    k.enabled = true;
    TcpOptions check; // the bounds are check_tcp_options()'s, the one place that knows them
    auto figure = [&](const YAML::Node& n, auto set) {
      set(check.keepalive);
      at<int>(n, [&] {
        check_tcp_options(check, key);
        return 0;
      });
      set(k);
    };
    each_key(node, key,
             {
                 {"enabled", [&](auto& n) { k.enabled = boolean(n, "enabled"); }},
                 {"idle",
                  [&](auto& n) {
                    Duration d = duration(n, "idle");
                    figure(n, [&](TcpKeepalive& t) { t.idle = d; });
                  }},
                 {"interval",
                  [&](auto& n) {
                    Duration d = duration(n, "interval");
                    figure(n, [&](TcpKeepalive& t) { t.interval = d; });
                  }},
                 {"count",
                  [&](auto& n) {
                    int c = integer(n, "count");
                    figure(n, [&](TcpKeepalive& t) { t.count = c; });
                  }},
             });
    return k;
  }

  Duration user_timeout(const YAML::Node& node, const std::string& key) const {
    TcpOptions check;
    check.user_timeout = duration(node, key);
    at<int>(node, [&] {
      check_tcp_options(check, key);
      return 0;
    });
    return check.user_timeout;
  }

  // --- who gets in (config/admission.h) ---

  Cidr cidr(const YAML::Node& node, const std::string& key) const {
    std::string text = scalar(node, key);
    return at<Cidr>(node, [&] { return parse_cidr_word(text); });
  }

  // A list of CIDRs, or one alone.
  std::vector<Cidr> cidrs(const YAML::Node& node, const std::string& key) const {
    std::vector<Cidr> out;
    if (node.IsScalar()) {
      out.push_back(cidr(node, key));
      return out;
    }
    for (const auto& item : sequence(node, key))
      out.push_back(cidr(item, key));
    return out;
  }

  std::string list_file(const YAML::Node& node, const std::string& key) const {
    std::string path = scalar(node, key);
    if (path.empty())
      fail(node, key + ": the path is empty");
    std::error_code ec;
    auto absolute = std::filesystem::absolute(path, ec); // the same file after a reconfigure
    return ec ? path : absolute.lexically_normal().string();
  }

  // `accept_proxy: true`, or `{from: [CIDR...], optional: false}`.
  void accept_proxy(const YAML::Node& node, Frontend& f) const {
    if (node.IsScalar()) {
      f.accept_proxy = boolean(node, "accept_proxy");
      return;
    }
    f.accept_proxy = true;
    each_key(node, "accept_proxy",
             {
                 {"from", [&](auto& n) { f.proxy_from.cidrs = cidrs(n, "from"); }},
                 {"optional", [&](auto& n) { f.proxy_optional = boolean(n, "optional"); }},
             });
    if (f.proxy_from.cidrs.empty())
      fail(node, "accept_proxy: `from` lists the senders trusted with a PROXY header "
                 "(write accept_proxy: true to trust every sender)");
  }

  PerSource per_source(const YAML::Node& node) const {
    PerSource p;
    auto positive = [&](const YAML::Node& n, const std::string& key, int low, int high) {
      int v = integer(n, key);
      if (v < low || v > high)
        fail(n, fmt::format("per_source {}: {} must be between {} and {}", key, v, low, high));
      return v;
    };
    each_key(
        node, "per_source",
        {
            {"maxconn", [&](auto& n) { p.maxconn = positive(n, "maxconn", 1, 1 << 20); }},
            {"rate",
             [&](auto& n) {
               std::string text = scalar(n, "rate");
               at<int>(n, [&] {
                 parse_rate(text, p.rate_count, p.rate_window);
                 return 0;
               });
             }},
            {"ipv6_prefix", [&](auto& n) { p.ipv6_prefix = positive(n, "ipv6_prefix", 1, 128); }},
            {"table_size",
             [&](auto& n) { p.table_size = positive(n, "table_size", 1, 10'000'000); }},
            {"action",
             [&](auto& n) {
               std::string text = scalar(n, "action");
               if (text == "reject")
                 p.action = OverLimit::reject;
               else if (text == "tarpit")
                 p.action = OverLimit::tarpit;
               else
                 fail(n, "per_source action: '" + text + "' is neither reject nor tarpit");
             }},
            {"tarpit_delay",
             [&](auto& n) {
               p.tarpit_delay = duration(n, "tarpit_delay");
               if (p.tarpit_delay.count() < 1)
                 fail(n, "per_source tarpit_delay must be positive");
             }},
        });
    if (!p.enabled())
      fail(node, "per_source: give maxconn, rate or both");
    return p;
  }

  std::string origin_;
  mutable bool old_word_noted_ = false;
};

} // namespace

Config load_yaml_text(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where(origin, e.mark) + ": " + e.msg);
  }
  Config config;
  try {
    config = Reader(origin).config(root);
  } catch (const YAML::Exception& e) { // a conversion yaml-cpp itself refused
    throw ConfigError(where(origin, e.mark) + ": " + e.msg);
  }
  load_cidr_files(config); // its errors name the list file, line and column
  try {
    validate(config);
  } catch (const ConfigError& e) {
    throw ConfigError(origin + ": " + e.what());
  }
  return config;
}

namespace {
// Anything but blanks and comments.
bool has_content(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#')
      return true;
  }
  return false;
}
} // namespace

Config load_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  // A file with nothing in it is what an editor or `>` leaves while it is writing in place, and
  // reloading it would close every listener; a file that really means "serve nothing" says so.
  if (!has_content(text.str()))
    throw ConfigError(path + ": the file is empty (write `frontends: []` to serve nothing)");
  return load_yaml_text(text.str(), path);
}

} // namespace hamba::config
