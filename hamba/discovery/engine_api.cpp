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

// The TCP ports of `ports` (an array of {"Protocol": "tcp", "TargetPort": 80}), sorted, once.
std::vector<int> target_ports(const json* ports) {
  std::vector<int> out;
  if (!ports || !ports->is_array())
    return out;
  for (const json& p : *ports) {
    const json* port = member(p, "TargetPort");
    std::string protocol = text(p, "Protocol");
    if (!port || !port->is_number_integer() || (!protocol.empty() && protocol != "tcp"))
      continue;
    auto n = port->get<long long>();
    if (n >= 1 && n <= 65535)
      out.push_back(static_cast<int>(n));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void add_labels(const json* labels, Labels& into) {
  if (labels && labels->is_object())
    for (const auto& [key, value] : labels->items())
      if (value.is_string())
        into[key] = value.get<std::string>();
}

Service service(const json& j) {
  Service s;
  s.id = text(j, "ID");
  const json* spec = member(j, "Spec");
  if (!spec)
    return s;
  s.name = text(*spec, "Name");
  if (s.name.empty())
    s.name = s.id.substr(0, 12);
  const json* task_template = member(*spec, "TaskTemplate");
  if (const json* container_spec =
          task_template ? member(*task_template, "ContainerSpec") : nullptr)
    add_labels(member(*container_spec, "Labels"), s.labels);
  add_labels(member(*spec, "Labels"), s.labels); // the service's own win
  // The ports as the service is now (Endpoint.Spec), or as asked (Spec.EndpointSpec).
  const json* endpoint = member(j, "Endpoint");
  const json* endpoint_spec = endpoint ? member(*endpoint, "Spec") : nullptr;
  if (!endpoint_spec)
    endpoint_spec = member(*spec, "EndpointSpec");
  s.target_ports = target_ports(endpoint_spec ? member(*endpoint_spec, "Ports") : nullptr);
  if (const json* mode = member(*spec, "Mode"))
    if (const json* replicated = member(*mode, "Replicated")) {
      const json* replicas = member(*replicated, "Replicas");
      s.replicas = replicas && replicas->is_number_unsigned()
                       ? static_cast<int>(std::min<unsigned long long>(
                             replicas->get<unsigned long long>(), 1u << 20))
                       : 1;
    }
  return s;
}

Task task(const json& j) {
  Task t;
  t.id = text(j, "ID");
  t.service_id = text(j, "ServiceID");
  t.node_id = text(j, "NodeID");
  t.desired_state = text(j, "DesiredState");
  if (const json* slot = member(j, "Slot");
      slot && slot->is_number_unsigned() && slot->get<unsigned long long>() <= 1u << 20)
    t.slot = static_cast<int>(slot->get<unsigned long long>());
  if (const json* status = member(j, "Status")) {
    t.state = text(*status, "State");
    if (const json* container = member(*status, "ContainerStatus"))
      t.container_id = text(*container, "ContainerID");
  }
  if (const json* attachments = member(j, "NetworksAttachments");
      attachments && attachments->is_array())
    for (const json& a : *attachments) {
      const json* network = member(a, "Network");
      const json* spec = network ? member(*network, "Spec") : nullptr;
      if (!spec)
        continue;
      if (const json* ingress = member(*spec, "Ingress");
          ingress && ingress->is_boolean() && ingress->get<bool>())
        continue; // the routing mesh's: not where a task serves its peers
      std::string name = text(*spec, "Name");
      const json* addresses = member(a, "Addresses");
      if (name.empty() || !addresses || !addresses->is_array())
        continue;
      for (const json& address : *addresses)
        if (address.is_string()) {
          std::string cidr = address.get<std::string>();
          std::string ip = cidr.substr(0, cidr.find('/'));
          if (!ip.empty()) {
            t.networks[name] = ip;
            break;
          }
        }
    }
  return t;
}

template <typename T, typename Decode>
std::vector<T> parse_list(std::string_view body, const char* what, Decode decode) {
  json j = parse_json(body, what);
  if (!j.is_array())
    throw ApiError(std::string(what) + ": not a JSON array");
  std::vector<T> out;
  for (const json& item : j) {
    if (!item.is_object())
      continue;
    T t = decode(item);
    if (!t.id.empty())
      out.push_back(std::move(t));
  }
  return out;
}

} // namespace

std::vector<Service> parse_service_list(std::string_view body) {
  return parse_list<Service>(body, "service list", service);
}

std::vector<Task> parse_task_list(std::string_view body) {
  return parse_list<Task>(body, "task list", task);
}

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
