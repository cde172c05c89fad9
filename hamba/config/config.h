// The configuration model: plain data, one struct per frontend and server.
//
// Words, as HAProxy uses them: a frontend listens and balances over its backend, the pool of
// its servers; a server is one configured member (a name or an IP literal, with a port); an
// address is what a server's name resolved to (several addresses make several pool members).
//
// The command line (cli/), the YAML file (config/yaml_loader) and `reconfigure` all produce a
// `Config`; `validate()` is the one place that checks it and `to_yaml()` the one place that
// prints it (`debugconfig`, `showconfig`), so the three can never disagree. Every field has the
// default the original jpetazzo/hamba (HAProxy) gave its users, but for the connection limits and
// the thread count, which follow the machine as HAProxy 2.x's do; "0" never means "unset" (an
// unset limit is an empty std::optional).
//
// The YAML form, as printed by to_yaml() and read by load_yaml_*():
//
//   maxconn: 256            # global: above it new connections wait in the accept queue
//                           # (unset: derived from the file-descriptor limit at start)
//   threads: 2              # worker loops (unset: the CPUs this process may use)
//   grace: 5s               # SIGTERM: how long established connections may finish
//   admin: 127.0.0.1:8404   # optional: stats page, /metrics, /stats.json
//   docker:                 # optional: frontends from containers' hamba.* labels
//     socket: /var/run/docker.sock  # the Engine API's unix socket (the default)
//     network: ""           # the network whose addresses servers get (when there are several)
//   frontends:
//     - name: "80"          # defaults to the bind port
//       provider: docker    # only in showconfig: discovered from labels, not configured
//       bind: "0.0.0.0:80"  # "[::1]:80" for IPv6; an empty host means all addresses
//       balance: roundrobin # or leastconn, source (the client's address, consistently), or
//                           # first (the first server by order with room: consolidates)
//       connect_timeout: 5s
//       idle_timeout: 50s
//       retries: 3          # other servers tried when a connect fails, before giving up
//       resolve_interval: 5s
//       dns_hold: 30s       # a name that stops existing (NXDOMAIN) keeps its servers that long
//       check: {type: tcp, interval: 2s, timeout: 2s, rise: 2, fall: 3}
//                           # type http: path "/", host (default: the server's name),
//                           #   status 200-399; type redis: PING, expects +PONG
//       observe: {failures: 3}  # that many failed connects or early resets in a row: DOWN
//       retry_after: 10s    # with checks off, a server traffic took down is tried again
//       slowstart: 0s       # a server that comes up ramps from 0 to its weight over this
//       accept_proxy: false # true: every client starts with a PROXY v1/v2 header; or
//                           # {from: [CIDR...], optional: false} (config/admission.h)
//       allow: [], deny: [], allow_file, deny_file, per_source: see config/admission.h
//       preread_timeout: 5s # how long a PROXY header or a TLS ClientHello may take to arrive
//       send_proxy: none    # or v1, v2: a PROXY header first on every server connection
//       tcp_keepalive: false          # client side: true, false, or {idle, interval, count}
//       tcp_user_timeout: 0s          # client side: unacknowledged data at most that long (0: off)
//       server_tcp_keepalive: {idle: 60s, interval: 15s, count: 4}   # server side: on
//       server_tcp_user_timeout: 0s
//       allbackups: false   # true: every backup server takes connections when no normal
//                           # server is up (false: only the first backup that is up, HAProxy's)
//       servers:            # `backends:` (the old word) still loads, with a warning
//         - address: "rng1:80"
//           maxconn: 32     # per server (unset: no limit); excess connections queue, they
//                           # are not refused
//           weight: 1       # 1-256: its share of new connections
//           state: enabled  # or disabled, drain
//           name: rng-1     # optional: shown in stats and /metrics instead of the address
//           backup: false   # true: takes connections only while no normal server is up
//       tls:                # optional: hamba terminates TLS (the servers get plaintext)
//         cert: site.pem    # PEM: the certificate, then its chain
//         key: site.key     # PEM: its private key
//         certs: [{cert: b.pem, key: b.key}]  # more, chosen by the ClientHello's server name
//                           #   (their SAN names, exact or wildcard); the first is the default
//         alpn: [h2, http/1.1]  # protocols offered (none: no ALPN)
//         min_version: "1.2"    # or "1.3"; 1.0 and 1.1 are refused
//         client_ca: ca.pem     # optional: clients must present a certificate it verifies
//       server_tls:         # optional: hamba connects to the servers with TLS
//         verify: ca.pem    # the CA bundle their certificates must chain to, or none
//         sni: db.internal  # the name sent (and checked, when verifying)
//         cert: c.pem       # optional: a client certificate hamba presents, and its key
//         key: c.key
//       tls_handshake_timeout: 10s  # with tls: how long a client may take to finish its handshake
//       routes:             # optional: TLS routed by the ClientHello's server name (SNI);
//         - name: a         # the frontend's own servers are the default route
//           sni: ["a.test", "*.a.test"]   # exact, or "*." and a suffix for one more label
//           send_proxy: none
//           servers: ["127.0.0.1:9001"]
//           server_tls: {verify: a-ca.pem, sni: a.internal}  # optional: its own, else the
//                                                            #   frontend's server_tls
//
// Durations are written "250ms", "5s", "2m"; a bare number means milliseconds (HAProxy's rule).
#pragma once

#include "base/endpoint.h"
#include "config/admission.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hamba::config {

using Duration = std::chrono::milliseconds;

using hamba::Endpoint;
using hamba::format_endpoint;

enum class Balance { roundrobin, leastconn, source, first };
// "roundrobin", "leastconn", "source", "first"; parse_balance throws ConfigError naming `text`.
const char* balance_name(Balance b);
Balance parse_balance(const std::string& text);

// What an active health check does after the connect (balance/check_protocol.h).
enum class CheckType { tcp, http, redis };
const char* check_type_name(CheckType t);
CheckType parse_check_type(const std::string& text);

// Administrative state of one server, set in the config or by `hamba disable|enable|drain`.
enum class ServerState { enabled, disabled, drain };

struct HealthCheck {
  bool enabled = true;
  Duration interval{2000}; // HAProxy's `inter` default
  Duration timeout{2000};  // a connect that takes longer counts as a failure
  int rise = 2;            // consecutive successes before a down server is up
  int fall = 3;            // consecutive failures before an up server is down
  CheckType type = CheckType::tcp;
  std::string path = "/"; // http: the request target; starts with "/"
  std::string host;       // http: the Host header; "" = the server's name
  int status_low = 200;   // http: a status in [status_low, status_high] passes
  int status_high = 399;
  bool operator==(const HealthCheck&) const = default;
};

// One configured server of a frontend's backend.
struct Server {
  Endpoint address;
  std::optional<int> maxconn; // unset: no limit
  ServerState state = ServerState::enabled;
  int weight = 1; // 1-256
  // Shown in stats and /metrics instead of the address when set: a discovered server carries
  // its container's name, since its address says nothing to an operator.
  std::string name;
  // Takes connections only while no normal (non-backup) server is up, as HAProxy's `backup`.
  bool backup = false;
  bool operator==(const Server&) const = default;
};

// TCP keepalive on one side's sockets (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT):
// after `idle` without a segment from the peer, a probe every `interval`; `count` unanswered
// probes in a row end the connection. The kernel counts in whole seconds.
struct TcpKeepalive {
  bool enabled = false;
  Duration idle{60000};
  Duration interval{15000};
  int count = 4;
  bool operator==(const TcpKeepalive&) const = default;
};

// The TCP options hamba sets on one side's sockets: the clients' (a frontend's accepted
// sockets) or the servers' (its connects).
struct TcpOptions {
  TcpKeepalive keepalive;
  // TCP_USER_TIMEOUT: data sent may stay unacknowledged at most this long before the kernel
  // ends the connection (it also bounds keepalive's probing). 0: the kernel's default (about
  // 15 minutes of retransmissions).
  Duration user_timeout{0};
  bool operator==(const TcpOptions&) const = default;
};

// Toward servers keepalive is on: an idle connection (a Redis ambassador's, held for hours) goes
// through conntrack tables, firewalls and cloud load balancers that forget a flow after 4 to 60
// minutes of silence (Azure's 4 min, AWS NLB's 350 s, Docker swarm's IPVS 900 s). A probe after
// 60 s keeps every one of them refreshed with room for lost probes, and a server that vanished
// without a reset is found within 60 s + 4 x 15 s = 2 min. The client side keeps the kernel's
// default (off), as HAProxy does: its peers are usually the ones holding the connection open.
inline TcpOptions default_server_tcp() {
  TcpOptions o;
  o.keepalive.enabled = true;
  return o;
}

// "on", "off", or "IDLE[,INTERVAL[,COUNT]]" ("60s,15s,4"): the --tcp-keepalive options. Throws
// ConfigError naming `text`.
TcpKeepalive parse_tcp_keepalive(const std::string& text);
// Checks the figures the kernel takes (whole seconds 1-32767, count 1-127, user timeout below
// 2^31 ms). Throws ConfigError naming `what` ("tcp_keepalive") and the bad figure.
void check_tcp_options(const TcpOptions& options, const std::string& what);

// The PROXY protocol header (HAProxy's proxy-protocol.txt) written first to servers.
enum class ProxyProtocol { none, v1, v2 };

// A backend of its own for TLS connections whose ClientHello names one of `sni`.
// TLS from hamba to a frontend's servers (and its routes', unless a route has its own):
// net/tls_context.h's client side.
struct ServerTls {
  std::string verify; // a PEM CA bundle, or "none"
  std::string sni;    // "" for none
  std::string cert;   // optional client certificate
  std::string key;
  bool operator==(const ServerTls&) const = default;
};

struct Route {
  std::string name;             // shown in logs, stats and metrics; defaults to the first name
  std::vector<std::string> sni; // lower case: "a.test", or "*.a.test" (exactly one more label)
  std::vector<Server> servers;
  ProxyProtocol send_proxy = ProxyProtocol::none;
  std::optional<ServerTls> server_tls; // set: this route's servers get it, not the frontend's
  bool operator==(const Route&) const = default;
};

// One certificate a frontend presents: PEM files, the chain after the certificate.
struct TlsCertificate {
  std::string cert;
  std::string key;
  bool operator==(const TlsCertificate&) const = default;
};

// TLS terminated on a frontend (net/tls_context.h builds it).
struct FrontendTls {
  std::vector<TlsCertificate> certs; // the first is the default (no server name, or no match)
  std::vector<std::string> alpn;     // offered protocols, in the server's order of preference
  std::string min_version = "1.2";   // "1.2" or "1.3"
  std::string client_ca; // set: clients must present a certificate this PEM bundle verifies
  bool operator==(const FrontendTls&) const = default;
};

struct Frontend {
  std::string name; // shown in logs, stats and metrics; defaults to the bind port
  Endpoint bind;
  std::vector<Server> servers; // the backend; with routes, the default route's
  // Clients are other proxies: each connection starts with a PROXY header (v1 or v2), whose
  // addresses are the client's for logs, stats and send_proxy. No header, no connection.
  bool accept_proxy = false;
  // accept_proxy: the peers a header is read from (empty: any); another peer is refused, or
  // with proxy_optional served with its own address and no header read.
  CidrList proxy_from;
  bool proxy_optional = false;
  // Who gets in (config/admission.h): checked at accept, or after the PROXY header.
  CidrList allow;
  CidrList deny;
  PerSource per_source;
  ProxyProtocol send_proxy = ProxyProtocol::none; // for `servers`
  std::vector<Route> routes; // non-empty: every connection is TLS and routed by its SNI
  // Set: hamba terminates TLS; routes then match the server name of the terminated handshake.
  std::optional<FrontendTls> tls;
  std::optional<ServerTls> server_tls;   // set: the servers are spoken to in TLS
  Duration tls_handshake_timeout{10000}; // with tls: the handshake's deadline from the accept
  Duration preread_timeout{5000};        // for the PROXY header and the ClientHello to arrive
  Balance balance = Balance::roundrobin;
  Duration connect_timeout{5000};
  Duration idle_timeout{50000};
  int retries = 3;
  Duration resolve_interval{5000}; // how often server names are resolved again
  // A name the resolver says does not exist (NXDOMAIN, no address) keeps its last addresses for
  // this long before they drain (HAProxy's `hold nx`): a passing failure of the DNS server must
  // not take a whole backend away, while a service really gone still drains. 0: drain at once.
  Duration dns_hold{30000};
  HealthCheck check;
  int observe_failures = 3;    // consecutive traffic failures that mark a server DOWN; 0 = off
  Duration retry_after{10000}; // checks off: a server traffic took down is tried again after
  Duration slowstart{0};       // ramp of a server that comes up; 0 = none
  // "" for a configured frontend; "docker" for one discovered from container labels (the
  // control plane adds those to the configuration it is given, and drops them from one handed
  // back, such as showconfig's output fed to reconfigure).
  std::string provider;
  TcpOptions client_tcp;                        // on accepted sockets
  TcpOptions server_tcp = default_server_tcp(); // on connects to servers (every route's too)
  // With no normal server up: every backup server up takes connections (true), or only the
  // first one by order (false, HAProxy's default without `option allbackups`).
  bool allbackups = false;
  bool operator==(const Frontend&) const = default;
};

// Worker loops at most (threads:, --threads): more than any machine hamba runs on has cores.
constexpr int kMaxThreads = 256;

// The Docker provider (discovery/docker_provider.h): frontends and servers from the hamba.*
// labels of running containers, followed through the Engine API's events.
struct Docker {
  std::string socket = "/var/run/docker.sock";
  std::string network; // "": the one network a container is on, or its hamba.network label
  bool operator==(const Docker&) const = default;
};

struct Config {
  std::vector<Frontend> frontends;
  std::optional<Docker> docker; // unset: no discovery
  std::optional<int> maxconn;   // unset: derived from the file-descriptor limit (app/limits.h)
  std::optional<int> threads;   // unset: the CPUs this process may use; read at start only
  Duration grace{5000};
  std::string admin; // "ADDR:PORT" or empty (nothing served)
  bool operator==(const Config&) const = default;
};

// A configuration that cannot be used; what() names the bad word and, for files, where it is
// ("config.yaml:3:7: port 0 is out of range 1-65535").
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Checks everything that can be checked without the network (ports, duplicates, limits).
// Throws ConfigError naming the first problem.
void validate(const Config& config);

// The configuration as YAML (the form above), for debugconfig and showconfig.
std::string to_yaml(const Config& config);

// "1.2" or "1.3" (a TLS min_version); 1.0 and 1.1 are refused. Throws ConfigError naming `text`.
void check_tls_version(const std::string& text);

// "250ms", "5s", "2m", "1h" or a bare number of milliseconds. Throws ConfigError naming `text`.
Duration parse_duration(const std::string& text);
std::string format_duration(Duration d);

// "none", "v1" or "v2". Throws ConfigError naming `text`.
ProxyProtocol parse_proxy_protocol(const std::string& text);
const char* proxy_protocol_name(ProxyProtocol p);

// An SNI pattern as routes hold it: lower-cased and checked (a DNS name, or "*." and one).
// Throws ConfigError naming `text`.
std::string parse_sni_pattern(const std::string& text);

// Whether `server_name` (lower case, from a ClientHello) matches `pattern`: equal, or for
// "*.example.com" one label and ".example.com" ("a.example.com", not "a.b.example.com").
bool sni_matches(std::string_view pattern, std::string_view server_name);

// "200-399" or "200" into a status range (100-599). Throws ConfigError naming `text`.
void parse_status_range(const std::string& text, int& low, int& high);
// "tcp", "redis", "http" or "http:/PATH": the --check option and HAMBA_CHECK. Throws ConfigError.
void parse_check_word(const std::string& text, HealthCheck& check);
// Checks an http check's path and host (they go into the request as written). Throws
// ConfigError naming them.
void check_http_target(const std::string& path, const std::string& host);

// "host:port", "[v6]:port", ":port" or "port" (host empty), as base/endpoint.h parses it, with
// port 1-65535. Throws ConfigError naming `text`.
Endpoint parse_endpoint(const std::string& text);

// Reads the YAML form (config/yaml_loader.cpp). `origin` names the source in errors (a path, or
// "<control>"), with line and column. Throws ConfigError; the result is validated.
Config load_yaml_text(const std::string& text, const std::string& origin);
Config load_yaml_file(const std::string& path);

} // namespace hamba::config
