// hamba.* labels into wishes, and running containers into frontends (see labels.h).
#include "discovery/labels.h"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <map>
#include <set>

namespace hamba::discovery {

namespace {

constexpr std::string_view kPrefix = "hamba.";

// The fields a wish has, by label name (after "hamba." and any index).
const std::vector<std::string_view> kFields = {"frontend", "port",       "backend", "weight",
                                               "check",    "send_proxy", "sni",     "balance"};

[[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& why) {
  throw LabelError(fmt::format("label {}=\"{}\": {}", key, value, why));
}

int number(const std::string& key, const std::string& value, int low, int high) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < low ||
      n > high)
    bad(key, value, fmt::format("not a number from {} to {}", low, high));
  return n;
}

// The config parsers' own message, under the label's name.
template <typename Parse> auto parsed(const std::string& key, const std::string& value, Parse p) {
  try {
    return p();
  } catch (const config::ConfigError& e) {
    bad(key, value, e.what());
  }
}

bool plain_name(const std::string& s) {
  return !s.empty() && s.size() <= 63 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// One label's value into its field of `w`.
void set_field(Wish& w, std::string_view field, const std::string& key, const std::string& value,
               bool& has_frontend, bool& has_port) {
  if (field == "frontend") {
    w.frontend = parsed(key, value, [&] { return config::parse_endpoint(value); });
    if (!w.frontend.host.empty() && !is_ip_literal(w.frontend.host))
      bad(key, value, "the address to listen on must be an IP address (or only a port)");
    has_frontend = true;
  } else if (field == "port") {
    w.port = number(key, value, 1, 65535);
    has_port = true;
  } else if (field == "backend") {
    if (!plain_name(value))
      bad(key, value, "a backend name is 1 to 63 letters, digits, '-', '_' or '.'");
    w.backend = value;
  } else if (field == "weight") {
    w.weight = number(key, value, 1, 256);
  } else if (field == "check") {
    config::HealthCheck check;
    parsed(key, value, [&] {
      config::parse_check_word(value, check);
      return 0;
    });
    w.check = value;
  } else if (field == "send_proxy") {
    w.send_proxy = parsed(key, value, [&] { return config::parse_proxy_protocol(value); });
  } else if (field == "sni") {
    w.sni.clear();
    size_t at = 0;
    while (at <= value.size()) {
      size_t comma = std::min(value.find(',', at), value.size());
      std::string name = value.substr(at, comma - at);
      name.erase(0, name.find_first_not_of(' '));
      name.erase(name.find_last_not_of(' ') + 1);
      w.sni.push_back(parsed(key, value, [&] { return config::parse_sni_pattern(name); }));
      at = comma + 1;
    }
  } else if (field == "balance") {
    w.balance = parsed(key, value, [&] { return config::parse_balance(value); });
  }
}

struct Labelled {
  std::map<std::string, std::string> fields; // field -> key as written, for messages
  std::map<std::string, std::string> values; // field -> value
};

} // namespace

std::vector<Wish> decode_labels(const Labels& labels, const std::vector<int>& exposed_ports) {
  Labelled defaults;               // hamba.FIELD
  std::map<int, Labelled> indexed; // hamba.N.FIELD
  for (const auto& [key, value] : labels) {
    if (!key.starts_with(kPrefix))
      continue;
    std::string_view rest = std::string_view(key).substr(kPrefix.size());
    if (rest == "network")
      continue; // the container's, read by discover()
    Labelled* into = &defaults;
    if (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      size_t dot = rest.find('.');
      int index = -1;
      std::string_view digits = rest.substr(0, dot);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (dot == std::string_view::npos || ec != std::errc{} ||
          end != digits.data() + digits.size() || index > 99)
        bad(key, value, "an indexed label is hamba.N.FIELD, N from 0 to 99");
      into = &indexed[index];
      rest = rest.substr(dot + 1);
    }
    if (std::find(kFields.begin(), kFields.end(), rest) == kFields.end())
      bad(key, value,
          "unknown label (hamba.frontend, port, backend, weight, check, send_proxy, sni, "
          "balance, network; docs/docker.md)");
    into->fields[std::string(rest)] = key;
    into->values[std::string(rest)] = value;
  }
  auto make = [&](const Labelled& own, bool use_defaults) {
    Wish w;
    bool has_frontend = false, has_port = false;
    if (use_defaults)
      for (const auto& [field, value] : defaults.values)
        if (field != "frontend")
          set_field(w, field, defaults.fields.at(field), value, has_frontend, has_port);
    for (const auto& [field, value] : own.values)
      set_field(w, field, own.fields.at(field), value, has_frontend, has_port);
    if (!has_frontend) {
      const std::string& key = own.fields.begin()->second;
      bad(key, own.values.begin()->second,
          fmt::format("no {}frontend says where hamba listens for it",
                      key.substr(0, key.rfind('.') + 1)));
    }
    if (!has_port) {
      const std::string& key = own.fields.at("frontend");
      if (exposed_ports.size() != 1)
        bad(key, own.values.at("frontend"),
            fmt::format("no hamba.port, and the container exposes {} TCP ports: write "
                        "hamba.port=N",
                        exposed_ports.size()));
      w.port = exposed_ports.front();
    }
    return w;
  };
  std::vector<Wish> wishes;
  if (!defaults.values.empty() && (indexed.empty() || defaults.values.count("frontend")))
    wishes.push_back(make(defaults, false));
  for (const auto& [index, own] : indexed)
    wishes.push_back(make(own, true));
  return wishes;
}

namespace {

// A frontend being assembled, with who set what (for the messages of a disagreement).
struct Building {
  config::Frontend frontend;
  std::string bind_by, name_by, balance_by, check_by;
  std::optional<std::string> check;
  std::map<std::string, std::string> send_proxy_by; // backend ("" = default) -> container
};

std::string join(const std::map<std::string, std::string>& networks) {
  std::string out;
  for (const auto& [name, address] : networks)
    out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

// The container's address, or throws LabelError saying why there is none.
std::string address_of(const Container& c, const std::string& network) {
  auto label = c.labels.find("hamba.network");
  const std::string& wanted = label != c.labels.end() ? label->second : network;
  if (!wanted.empty()) {
    auto it = c.networks.find(wanted);
    if (it == c.networks.end())
      throw LabelError(fmt::format("not on network \"{}\" (it is on {}){}", wanted,
                                   join(c.networks),
                                   label != c.labels.end() ? " (label hamba.network)" : ""));
    return it->second;
  }
  if (c.networks.size() != 1)
    throw LabelError(fmt::format(
        "on {} networks ({}): say which with the label hamba.network or docker: {{network}}",
        c.networks.size(), join(c.networks)));
  return c.networks.begin()->second;
}

// Adds one container's wish to the frontends being built; throws LabelError on a disagreement.
void add(std::map<int, Building>& building, const Container& c, const Wish& w,
         const std::string& address, const std::vector<config::Frontend>& configured) {
  const std::string port = std::to_string(w.frontend.port);
  for (const config::Frontend& f : configured)
    if (f.bind.port == w.frontend.port || f.name == port ||
        (!w.backend.empty() && w.sni.empty() && f.name == w.backend))
      throw LabelError(fmt::format("frontend {} refused: the configuration has frontend \"{}\" "
                                   "on {}",
                                   config::format_endpoint(w.frontend), f.name,
                                   config::format_endpoint(f.bind)));
  auto [it, is_new] = building.try_emplace(w.frontend.port);
  Building& b = it->second;
  config::Frontend& f = b.frontend;
  if (is_new) {
    f.name = port;
    f.bind = w.frontend;
    f.provider = "docker";
    b.bind_by = c.name;
  } else if (!(f.bind == w.frontend)) {
    throw LabelError(fmt::format("frontend {}: container {} already has port {} listen on {}",
                                 config::format_endpoint(w.frontend), b.bind_by, w.frontend.port,
                                 config::format_endpoint(f.bind)));
  }
  if (w.balance) {
    if (!b.balance_by.empty() && f.balance != *w.balance)
      throw LabelError(fmt::format("hamba.balance={}: container {} set {} for frontend {}",
                                   config::balance_name(*w.balance), b.balance_by,
                                   config::balance_name(f.balance), f.name));
    f.balance = *w.balance;
    b.balance_by = c.name;
  }
  if (w.check) {
    if (b.check && *b.check != *w.check)
      throw LabelError(fmt::format("hamba.check={}: container {} set {} for frontend {}", *w.check,
                                   b.check_by, *b.check, f.name));
    config::parse_check_word(*w.check, f.check);
    b.check = w.check;
    b.check_by = c.name;
  }
  config::Server s;
  s.address = {address, static_cast<uint16_t>(w.port)};
  s.weight = w.weight;
  s.name = c.name;
  std::vector<config::Server>* servers = &f.servers;
  config::ProxyProtocol* send_proxy = &f.send_proxy;
  std::string backend;
  if (w.sni.empty()) {
    if (!w.backend.empty()) {
      if (!b.name_by.empty() && f.name != w.backend)
        throw LabelError(fmt::format("hamba.backend={}: container {} named frontend {}'s backend "
                                     "{}",
                                     w.backend, b.name_by, port, f.name));
      f.name = w.backend;
      b.name_by = c.name;
    }
  } else {
    backend = w.backend.empty() ? w.sni.front() : w.backend;
    auto route = std::find_if(f.routes.begin(), f.routes.end(),
                              [&](const config::Route& r) { return r.name == backend; });
    if (route == f.routes.end()) {
      f.routes.push_back({backend, w.sni, {}, config::ProxyProtocol::none});
      route = f.routes.end() - 1;
    } else if (route->sni != w.sni) {
      throw LabelError(fmt::format("hamba.sni: backend {} of frontend {} already routes other "
                                   "names",
                                   backend, f.name));
    }
    servers = &route->servers;
    send_proxy = &route->send_proxy;
  }
  if (w.send_proxy) {
    auto by = b.send_proxy_by.find(backend);
    if (by != b.send_proxy_by.end() && *send_proxy != *w.send_proxy)
      throw LabelError(fmt::format("hamba.send_proxy={}: container {} set {} for this backend",
                                   config::proxy_protocol_name(*w.send_proxy), by->second,
                                   config::proxy_protocol_name(*send_proxy)));
    *send_proxy = *w.send_proxy;
    b.send_proxy_by[backend] = c.name;
  }
  // Two containers on different networks may have one address: the backend serves it once.
  auto same = std::find_if(servers->begin(), servers->end(),
                           [&](const config::Server& o) { return o.address == s.address; });
  if (same != servers->end())
    throw LabelError(fmt::format("its address {} is {}'s already",
                                 config::format_endpoint(s.address), same->name));
  servers->push_back(s);
}

} // namespace

Discovery discover(const std::vector<Container>& containers, const std::string& network,
                   const std::vector<config::Frontend>& configured) {
  std::vector<const Container*> sorted;
  for (const Container& c : containers)
    sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(),
            [](const Container* a, const Container* b) { return a->name < b->name; });
  Discovery out;
  std::map<int, Building> building;
  std::set<std::string> seen; // IDs and names: a list that names one twice serves it once
  for (const Container* c : sorted) {
    if (!c->state.empty() && c->state != "running")
      continue;
    if (!seen.insert("id:" + c->id).second || !seen.insert("name:" + c->name).second) {
      out.problems.push_back(fmt::format("container {} skipped: listed twice", c->name));
      continue;
    }
    // Serves once its healthcheck says so; leaves when it says otherwise.
    if (c->health == Health::starting || c->health == Health::unhealthy)
      continue;
    std::map<int, Building> before = building; // a refused container leaves no trace
    try {
      std::vector<Wish> wishes = decode_labels(c->labels, c->exposed_ports);
      if (wishes.empty())
        continue;
      std::string address = address_of(*c, network);
      for (const Wish& w : wishes)
        add(building, *c, w, address, configured);
    } catch (const std::exception& e) { // LabelError, or a ConfigError of a label's value
      out.problems.push_back(fmt::format("container {} skipped: {}", c->name, e.what()));
      building = std::move(before);
    }
  }
  std::set<std::string> names; // frontend names are unique (stats, /metrics)
  for (const config::Frontend& f : configured)
    names.insert(f.name);
  for (auto& [port, b] : building) {
    if (names.count(b.frontend.name)) {
      std::string taken = b.frontend.name;
      b.frontend.name = std::to_string(port);
      if (names.count(b.frontend.name)) {
        out.problems.push_back(
            fmt::format("frontend {} not opened: its name \"{}\" is taken", port, taken));
        continue;
      }
      out.problems.push_back(
          fmt::format("frontend {}: named {} (hamba.backend \"{}\" names another frontend)", port,
                      port, taken));
    }
    if (b.frontend.servers.empty()) {
      out.problems.push_back(fmt::format(
          "frontend {} not opened: only SNI routes (hamba.sni); a container without hamba.sni "
          "serves its other connections",
          b.frontend.name));
      continue;
    }
    names.insert(b.frontend.name);
    out.frontends.push_back(std::move(b.frontend));
  }
  return out;
}

} // namespace hamba::discovery
