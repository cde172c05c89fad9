// Docker Engine API answers as data: the container list (GET /containers/json), one event of
// the stream (GET /events), and in Swarm mode the services (GET /services) and their tasks (GET
// /tasks), decoded with nlohmann-json into the few fields hamba uses. Pure
// functions over text, so the unit tests and the fuzz target (tests/fuzz/fuzz_docker_api.cpp)
// feed them bytes directly.
//
//     std::vector<Container> all = parse_container_list(body);  // throws ApiError
//     std::optional<Event> e = parse_event(line);                // nullopt: not an object of
//                                                                // ours; throws ApiError: not JSON
//
// Written against API 1.41 (Docker 20.10) and what later versions add: unknown fields are
// ignored, missing ones take an empty value.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hamba::discovery {

using Labels = std::map<std::string, std::string>;

// A container's health as its Docker healthcheck says, from the list's Status text ("Up 3
// seconds (healthy)"): none when it has no healthcheck.
enum class Health { none, starting, healthy, unhealthy };

struct Container {
  std::string id;
  std::string name; // without the leading '/'
  Labels labels;
  std::map<std::string, std::string> networks; // network name -> its IPv4 (or IPv6) address
  std::vector<int> exposed_ports;              // TCP, each once, in increasing order
  std::string state;                           // "running", "exited", ...
  Health health = Health::none;
  bool operator==(const Container&) const = default;
};

// One event of the stream: {"Type":"container","Action":"start","Actor":{"ID":...}}.
struct Event {
  std::string type;   // "container", "network", ...
  std::string action; // "start", "die", "health_status: healthy", ...
  std::string id;     // the actor's ID
  std::string name;   // its "name" attribute, when it has one
  std::string signal; // a kill's "signal" attribute: "15"
};

// A Swarm service: its labels are the service's own (`deploy: labels:` in a stack file) over its
// containers' (`labels:`), so either place works.
struct Service {
  std::string id;
  std::string name;
  Labels labels;
  std::vector<int> target_ports; // its published ports' container side (TCP), sorted, each once
  std::optional<int> replicas;   // replicated mode's count; nullopt for a global service
  bool operator==(const Service&) const = default;
};

// One task of a service, as GET /tasks gives it.
struct Task {
  std::string id;
  std::string service_id;
  int slot = 0; // replicated mode: 1..replicas; 0 for a global service's task
  std::string node_id;
  std::string state;         // Status.State: "running", "starting", "shutdown", ...
  std::string desired_state; // "running", "shutdown", ...
  std::string container_id;  // its container, once it has one
  std::map<std::string, std::string> networks; // network name -> address, CIDR suffix removed;
                                               // without the ingress (routing mesh) network
  bool operator==(const Task&) const = default;
};

class ApiError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Throws ApiError when `body` is not a JSON array (of objects). Entries without an Id are left
// out.
std::vector<Container> parse_container_list(std::string_view body);

// One line of the event stream. Throws ApiError when it is not JSON; nullopt for a JSON value
// that is not an event object.
std::optional<Event> parse_event(std::string_view line);

// Throw ApiError when `body` is not a JSON array; entries without an ID are left out.
std::vector<Service> parse_service_list(std::string_view body);
std::vector<Task> parse_task_list(std::string_view body);

// "Up 3 seconds (healthy)" -> healthy; no parenthesis -> none.
Health health_from_status(std::string_view status);

} // namespace hamba::discovery
