// Containers' hamba.* labels into frontends, in hamba's words. The one place the labels are
// defined (docs/docker.md shows the same table to users):
//
//   label                        meaning
//   hamba.frontend=PORT|ADDR:PORT  the address hamba listens on for this container (required)
//   hamba.port=N                 the container's own port; default: its one exposed TCP port
//   hamba.backend=NAME           the backend it joins; default: the frontend's (its port). With
//                                hamba.sni, the name of that SNI route (default: the first name)
//   hamba.weight=1..256          its weight (default 1)
//   hamba.check=tcp|http:/PATH|redis  the frontend's health check (default tcp)
//   hamba.send_proxy=v1|v2|none  PROXY protocol header toward it (per backend)
//   hamba.sni=NAME[,NAME...]     the container serves TLS for these names: an SNI route
//   hamba.balance=ALGO           the frontend's algorithm, as the YAML balance: (roundrobin...)
//   hamba.network=NAME           which of its networks to reach it on (container-wide)
//
// Several frontends on one container take an index: hamba.0.frontend, hamba.0.port,
// hamba.1.frontend...; an unindexed key (hamba.weight) is the default of every index. A label
// this table does not know, or a bad value, rejects the whole container with one line naming
// it and the label; the other containers are served.
//
// Containers on one frontend must agree on its settings (balance, check) and on each backend's
// send_proxy: the first container (by name) sets them, a container that disagrees is refused.
// A frontend whose port (or name) a configured frontend already uses is refused too.
//
//     Discovery d = discover(containers, "", static_frontends);
//     for (auto& line : d.problems) log::warn("docker: {}", line);
//     ... d.frontends (provider "docker", servers named after their containers) ...
#pragma once

#include "config/config.h"
#include "discovery/engine_api.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace hamba::discovery {

// What one container asks for on one frontend.
struct Wish {
  config::Endpoint frontend;
  int port = 0;        // the container's port
  std::string backend; // "" = the frontend's default backend (or the first SNI name)
  int weight = 1;
  std::optional<std::string> check; // as written: "tcp", "http:/health", "redis"
  std::optional<config::ProxyProtocol> send_proxy;
  std::vector<std::string> sni; // lower case patterns; non-empty: an SNI route
  std::optional<config::Balance> balance;
  bool operator==(const Wish&) const = default;
};

// A bad label: what() is "label hamba.weight=\"x\": ...", naming it.
class LabelError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The wishes the labels make, one per frontend (none when no hamba.* label is set). Throws
// LabelError on the first bad label. `exposed_ports` gives hamba.port's default.
std::vector<Wish> decode_labels(const Labels& labels, const std::vector<int>& exposed_ports);

struct Discovery {
  std::vector<config::Frontend> frontends; // by port; provider "docker"
  std::vector<std::string> problems;       // one line each: the container and what is wrong
};

// Every running, healthy (or unchecked) labelled container, on the frontends its labels name.
// `network` is docker: {network}; `configured` the frontends the configuration has.
Discovery discover(const std::vector<Container>& containers, const std::string& network,
                   const std::vector<config::Frontend>& configured);

} // namespace hamba::discovery
