// The Engine API's JSON into Container and Event (see engine_api.h).
#include "discovery/engine_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace hamba::discovery {

namespace {

using nlohmann::json;

// The string at `key` of the object `j`, or "" when it is missing or not a string.
std::string text(const json& j, const char* key) {
  if (!j.is_object())
    return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* member(const json& j, const char* key) {
  if (!j.is_object())
    return nullptr;
  auto it = j.find(key);
  return it != j.end() ? &*it : nullptr;
}

json parse_json(std::string_view body, const char* what) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw ApiError(std::string(what) + ": not JSON");
  return j;
}

Container container(const json& j) {
  Container c;
  c.id = text(j, "Id");
  if (const json* names = member(j, "Names"); names && names->is_array())
    for (const json& n : *names)
      if (n.is_string()) {
        std::string name = n.get<std::string>();
        if (!name.empty() && name.front() == '/')
          name.erase(0, 1);
        // A linked container is also listed under its link's path ("/web/db"): the plain name
        // is the one without a slash.
        if (name.find('/') == std::string::npos) {
          c.name = name;
          break;
        }
      }
  if (c.name.empty())
    c.name = c.id.substr(0, 12);
  if (const json* labels = member(j, "Labels"); labels && labels->is_object())
    for (const auto& [key, value] : labels->items())
      if (value.is_string())
        c.labels[key] = value.get<std::string>();
  const json* settings = member(j, "NetworkSettings");
  if (const json* networks = settings ? member(*settings, "Networks") : nullptr;
      networks && networks->is_object())
    for (const auto& [name, network] : networks->items()) {
      std::string address = text(network, "IPAddress");
      if (address.empty())
        address = text(network, "GlobalIPv6Address");
      if (!address.empty())
        c.networks[name] = address;
    }
  if (const json* ports = member(j, "Ports"); ports && ports->is_array())
    for (const json& p : *ports) {
      const json* port = member(p, "PrivatePort");
      if (!port || !port->is_number_integer() || text(p, "Type") != "tcp")
        continue;
      auto n = port->get<long long>();
      if (n >= 1 && n <= 65535)
        c.exposed_ports.push_back(static_cast<int>(n));
    }
  std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
  c.exposed_ports.erase(std::unique(c.exposed_ports.begin(), c.exposed_ports.end()),
                        c.exposed_ports.end());
  c.state = text(j, "State");
  c.health = health_from_status(text(j, "Status"));
  return c;
}

} // namespace

Health health_from_status(std::string_view status) {
  if (status.find("(healthy)") != std::string_view::npos)
    return Health::healthy;
  if (status.find("(unhealthy)") != std::string_view::npos)
    return Health::unhealthy;
  if (status.find("(health: starting)") != std::string_view::npos)
    return Health::starting;
  return Health::none;
}

std::vector<Container> parse_container_list(std::string_view body) {
  json j = parse_json(body, "container list");
  if (!j.is_array())
    throw ApiError("container list: not a JSON array");
  std::vector<Container> out;
  for (const json& item : j) {
    if (!item.is_object())
      continue;
    Container c = container(item);
    if (!c.id.empty())
      out.push_back(std::move(c));
  }
  return out;
}

std::optional<Event> parse_event(std::string_view line) {
  json j = parse_json(line, "event");
  if (!j.is_object())
    return std::nullopt;
  Event e;
  e.type = text(j, "Type");
  e.action = text(j, "Action");
  if (const json* actor = member(j, "Actor")) {
    e.id = text(*actor, "ID");
    if (const json* attributes = member(*actor, "Attributes")) {
      e.name = text(*attributes, "name");
      e.signal = text(*attributes, "signal");
    }
  }
  if (e.type.empty() && e.action.empty())
    return std::nullopt;
  return e;
}

} // namespace hamba::discovery
